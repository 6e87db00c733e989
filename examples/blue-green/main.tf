# A blue/green pair of environments driven by one variable, so that Godwit
# moves them by re-applying the module with another migration_phase:
#
#   preparation: blue only (where a migration starts)
#   execution:   blue and green (traffic moves while both run; a rollback
#                has somewhere to go)
#   completion:  green only (blue retired)
#
# It uses only the built-in terraform_data resource, so it needs no provider
# download and runs offline. A real module would put its servers, databases
# and load balancer entries behind the same two switches.

terraform {
  required_version = ">= 1.4.0"
}

variable "migration_phase" {
  type        = string
  description = "preparation (blue), execution (blue and green) or completion (green)"
  validation {
    condition     = contains(["preparation", "execution", "completion"], var.migration_phase)
    error_message = "migration_phase must be preparation, execution or completion."
  }
}

variable "app" {
  type        = string
  default     = "shop"
  description = "The application's name, part of each environment's address."
}

variable "green_release" {
  type        = string
  default     = "v2"
  description = "The release the green environment runs."
}

variable "deploy_token" {
  type        = string
  default     = ""
  sensitive   = true
  description = "A credential the environments would be deployed with (give it through secretVars)."
}

locals {
  blue  = var.migration_phase != "completion"
  green = var.migration_phase != "preparation"
}

resource "terraform_data" "blue" {
  count = local.blue ? 1 : 0
  input = {
    name    = "${var.app}-blue"
    release = "v1"
    address = "http://${var.app}-blue.internal:8080"
  }
}

resource "terraform_data" "green" {
  count = local.green ? 1 : 0
  input = {
    name       = "${var.app}-green"
    release    = var.green_release
    address    = "http://${var.app}-green.internal:8080"
    with_token = nonsensitive(var.deploy_token != "")
  }
}

output "blue_address" {
  description = "The blue environment's address; empty once blue is retired."
  value       = local.blue ? terraform_data.blue[0].output.address : ""
}

output "green_address" {
  description = "The green environment's address; empty before green exists."
  value       = local.green ? terraform_data.green[0].output.address : ""
}

output "environments" {
  description = "The environments that exist, e.g. \"blue,green\"."
  value       = join(",", concat(local.blue ? ["blue"] : [], local.green ? ["green"] : []))
}
