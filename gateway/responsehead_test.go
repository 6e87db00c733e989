package gateway

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestReadResponseAgreesWithNetHTTP reads the same raw answers with
// readResponse and http.ReadResponse and expects the same status, headers,
// length, close flag, body, error (or none) and the same bytes left on the
// connection: the fast path is an optimisation only.
func TestReadResponseAgreesWithNetHTTP(t *testing.T) {
	cases := []struct{ name, method, raw string }{
		{"plain", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"},
		{"next answer stays buffered", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n"},
		{"no reason phrase", "GET", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"},
		{"empty body", "GET", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"},
		{"non-canonical names and spaces", "GET", "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nx-custom-THING:\tv  \r\nX-Empty:\r\n\r\nabc"},
		{"spaces around the length", "GET", "HTTP/1.1 200 OK\r\nContent-Length:  3 \r\n\r\nabc"},
		{"repeated header", "GET", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 1\r\n\r\nx"},
		{"connection close", "GET", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nx"},
		{"connection other", "GET", "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nContent-Length: 1\r\n\r\nx"},
		{"obs-text value", "GET", "HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9\r\nContent-Length: 1\r\n\r\nx"},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{"chunked with trailer", "GET", "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Sum: 9\r\n\r\n"},
		{"no length: read to close", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"},
		{"http/1.0", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"},
		{"pragma", "GET", "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 1\r\n\r\nx"},
		{"two lengths agreeing", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"},
		{"two lengths disagreeing", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy"},
		{"bad length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx"},
		{"leading zeros", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n1234567"},
		{"no content", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"},
		{"not modified", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\nETag: x\r\n\r\n"},
		{"early hints", "GET", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"},
		{"obs-fold", "GET", "HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 0\r\n\r\n"},
		{"space before colon", "GET", "HTTP/1.1 200 OK\r\nX-Bad : a\r\nContent-Length: 0\r\n\r\n"},
		{"control byte in value", "GET", "HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 0\r\n\r\n"},
		{"line without colon", "GET", "HTTP/1.1 200 OK\r\nnonsense\r\nContent-Length: 0\r\n\r\n"},
		{"bad status", "GET", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"},
		{"bare LF lines", "GET", "HTTP/1.1 200 OK\nContent-Length: 1\n\nx"},
		{"short body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
		{"head cut short", "GET", "HTTP/1.1 200 OK\r\nContent-Len"},
		{"nothing", "GET", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, "http://upstream/x", nil)
			want := readAll(t, func(br *bufio.Reader) (*http.Response, error) { return http.ReadResponse(br, req) }, c.raw)
			got := readAll(t, func(br *bufio.Reader) (*http.Response, error) { return readResponse(br, req) }, c.raw)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("readResponse differs from http.ReadResponse\n got: %+v\nwant: %+v", got, want)
			}
		})
	}
}

// readOutcome is what a caller can observe of one answer read.
type readOutcome struct {
	Err           string
	Status        string
	StatusCode    int
	Header        http.Header
	ContentLength int64
	Close         bool
	Body          string
	BodyErr       string
	Left          string // bytes still on the connection after the body
}

func readAll(t *testing.T, read func(*bufio.Reader) (*http.Response, error), raw string) readOutcome {
	t.Helper()
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	var out readOutcome
	res, err := read(br)
	if err == nil && res.StatusCode < 200 { // an informational answer first, as exchange skips it
		res, err = read(br)
	}
	if err != nil {
		out.Err = err.Error()
		return out
	}
	out.Status, out.StatusCode, out.Header = res.Status, res.StatusCode, res.Header
	out.ContentLength, out.Close = res.ContentLength, res.Close
	body, err := io.ReadAll(res.Body)
	out.Body = string(body)
	if err != nil {
		out.BodyErr = err.Error()
	}
	if res.ContentLength >= 0 || errors.Is(err, io.ErrUnexpectedEOF) {
		// A close-delimited body has already taken everything.
		left, _ := io.ReadAll(br)
		out.Left = string(left)
	}
	return out
}

// TestReadResponseBodyStopsAtItsLength reads a fast-path body in small
// pieces: it ends with io.EOF exactly at its length, never reading into the
// next answer on the connection.
func TestReadResponseBodyStopsAtItsLength(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n1234567HTTP/1.1 200 OK\r\n"
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	req, _ := http.NewRequest(http.MethodGet, "http://upstream/", nil)
	res, err := readResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Body.(*clBody); !ok {
		t.Fatalf("a plain answer should take the fast path, got body %T", res.Body)
	}
	var got []byte
	p := make([]byte, 3)
	for {
		n, err := res.Body.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != "1234567" {
		t.Fatalf("body %q, want 1234567", got)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("left on the connection %q", rest)
	}
}

// BenchmarkReadResponse reads a typical small answer's head and body with
// the fast path and with http.ReadResponse:
//
//	go test -run '^$' -bench ReadResponse -benchmem ./gateway/
func BenchmarkReadResponse(b *testing.B) {
	raw := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Sun, 06 Dec 2026 21:00:00 GMT\r\n" +
		"Content-Length: 20\r\n\r\nhello from upstream\n"
	req, _ := http.NewRequest(http.MethodGet, "http://upstream/", nil)
	for _, c := range []struct {
		name string
		read func(*bufio.Reader, *http.Request) (*http.Response, error)
	}{{"fast", readResponse}, {"net_http", http.ReadResponse}} {
		b.Run(c.name, func(b *testing.B) {
			sr := strings.NewReader(raw)
			br := bufio.NewReaderSize(sr, 4096)
			buf := make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				sr.Reset(raw)
				br.Reset(sr)
				res, err := c.read(br, req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := res.Body.Read(buf); err != nil {
						break
					}
				}
			}
		})
	}
}
