package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// readResponse reads an answer's head from br as http.ReadResponse does.
// The common answer (HTTP/1.1, a status with a body, one Content-Length, no
// Transfer-Encoding, Trailer or Pragma, the whole head already buffered) is
// parsed here: one string for the whole head, its names and values sliced
// from it, one slice for all the values. http.ReadResponse allocates a
// string per value and its own reader and transfer state per answer, which
// under load costs more than the rest of the gateway's own work.
//
// Anything else (and anything malformed, so that the error is net/http's)
// goes to http.ReadResponse with nothing consumed.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodHead {
		return http.ReadResponse(br, req)
	}
	if _, err := br.Peek(1); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // as http.ReadResponse says it
		}
		return nil, err
	}
	buf, _ := br.Peek(br.Buffered())
	if n := bytes.Index(buf, crlfcrlf); n >= 0 {
		if res := parseSimpleHead(buf[:n+2], req); res != nil {
			_, _ = br.Discard(n + 4)
			res.Body = &clBody{r: br, left: res.ContentLength}
			return res, nil
		}
	}
	return http.ReadResponse(br, req)
}

var crlfcrlf = []byte("\r\n\r\n")

// parseSimpleHead parses head (status line and header lines, each ending in
// CRLF) when it is the common kind readResponse describes, or returns nil.
// The Body is left for the caller.
func parseSimpleHead(head []byte, req *http.Request) *http.Response {
	s := string(head)
	line, rest, _ := strings.Cut(s, "\r\n")
	// "HTTP/1.1 200 OK" or "HTTP/1.1 200".
	if len(line) < 12 || line[:9] != "HTTP/1.1 " || (len(line) > 12 && line[12] != ' ') {
		return nil
	}
	code := 0
	for _, c := range []byte(line[9:12]) {
		if c < '0' || c > '9' {
			return nil
		}
		code = code*10 + int(c-'0')
	}
	// 1xx, 204 and 304 carry no body; net/http frames them.
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil
	}
	lines := strings.Count(rest, "\r\n")
	h := make(http.Header, lines)
	vals := make([]string, lines)
	for rest != "" {
		var l string
		l, rest, _ = strings.Cut(rest, "\r\n")
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || !validValue(v) {
			return nil // obs-fold, a bad line: net/http decides
		}
		for i := 0; i < len(k); i++ {
			if !isTokenByte(k[i]) {
				return nil
			}
		}
		k = textproto.CanonicalMIMEHeaderKey(k) // no copy when already canonical
		v = strings.Trim(v, " \t")
		if vv, seen := h[k]; seen {
			h[k] = append(vv, v)
			continue
		}
		vals[0] = v
		h[k], vals = vals[:1:1], vals[1:]
	}
	cl, ok := h["Content-Length"]
	if !ok || len(cl) != 1 || h["Transfer-Encoding"] != nil || h["Trailer"] != nil || h["Pragma"] != nil {
		return nil
	}
	n, ok := parseLength(cl[0])
	if !ok {
		return nil
	}
	res := &http.Response{
		Status:        strings.TrimLeft(line[9:], " "),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		ContentLength: n,
		Request:       req,
	}
	if conn := h["Connection"]; conn != nil && hasToken(conn, "close") {
		res.Close = true
		h.Del("Connection") // as net/http does
	}
	return res
}

// parseLength parses a Content-Length of 1 to 18 digits.
func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hasToken reports whether a comma-separated header holds token (any case).
func hasToken(vv []string, token string) bool {
	for _, v := range vv {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// isTokenByte reports whether c may appear in a header name (RFC 9110 tchar).
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validValue reports whether v holds only bytes net/http accepts in a
// header value (visible ASCII, space, tab, obs-text).
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// clBody is an answer's body of a known length, read straight from the
// connection's reader.
type clBody struct {
	r    *bufio.Reader
	left int64
}

func (b *clBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF {
		// The upstream closed before sending all it announced.
		return n, io.ErrUnexpectedEOF
	}
	if err == nil && b.left == 0 {
		return n, io.EOF
	}
	return n, err
}

// Close does nothing: the pooled body decides what becomes of the
// connection.
func (b *clBody) Close() error { return nil }
