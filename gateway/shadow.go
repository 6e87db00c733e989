package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
)

// shadowCapture keeps the first limit bytes of the answer the client got,
// to compare with the other side's.
type shadowCapture struct {
	limit    int64
	status   int
	buf      bytes.Buffer
	overflow bool
}

func (s *shadowCapture) write(p []byte) {
	if s.overflow {
		return
	}
	if int64(s.buf.Len()+len(p)) > s.limit {
		s.overflow = true
		s.buf.Reset()
		return
	}
	s.buf.Write(p)
}

// startShadow mirrors a read that servedBy answered to the other side, in the
// background, and counts whether the answers differ. It never touches the
// client's response (already sent), the breaker or the sides' statistics;
// when too many copies are in flight it drops this one rather than queue.
func (g *Gateway) startShadow(req *http.Request, r *route, servedBy Side, status int, primary *shadowCapture) {
	select {
	case r.shadowSem <- struct{}{}:
	default:
		r.shadowDropped.Add(1)
		r.m.shadowDrops.WithLabelValues(r.cfg.Name).Inc()
		return
	}
	other := r.new
	if servedBy == SideNew {
		other = r.legacy
	}
	// Everything taken from req is copied now: the server reuses it once
	// the handler returns.
	ctx, cancel := context.WithTimeout(g.baseCtx, r.cfg.Timeout)
	shadowReq := outgoing(ctx, req, other.target(), nil)
	shadowReq.Header.Set("X-Godwit-Shadow", "1")
	g.shadows.Add(1)
	go func() {
		defer g.shadows.Done()
		defer func() { <-r.shadowSem }()
		defer cancel()
		kind := g.compareShadow(shadowReq, r, status, primary)
		r.shadowCompared.Add(1)
		r.m.shadow.WithLabelValues(r.cfg.Name).Inc()
		if kind != "" {
			r.shadowMismatches.Add(1)
			r.m.mismatches.WithLabelValues(r.cfg.Name, kind).Inc()
			g.log.Debug("shadow mismatch", "route", r.cfg.Name, "path", shadowReq.URL.Path, "kind", kind)
		}
	}()
}

// compareShadow sends the copy and returns "" when the answers agree, else
// what differed: "error", "status" or "body".
func (g *Gateway) compareShadow(req *http.Request, r *route, status int, primary *shadowCapture) string {
	res, err := g.transport.RoundTrip(req)
	if err != nil {
		return "error"
	}
	defer res.Body.Close()
	if res.StatusCode != status {
		return "status"
	}
	if !r.cfg.Shadow.CompareBody || primary.overflow {
		return ""
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, r.cfg.Shadow.MaxBody+1))
	if err != nil {
		return "error"
	}
	if int64(len(body)) > r.cfg.Shadow.MaxBody {
		return "" // too long to compare, as the primary would have been
	}
	if !sameBody(primary.buf.Bytes(), body) {
		return "body"
	}
	return ""
}

// sameBody compares bodies byte for byte, or as JSON values when both parse
// as JSON, so that key order and whitespace do not count as differences.
func sameBody(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
