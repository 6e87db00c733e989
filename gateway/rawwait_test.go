package gateway

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A new-user trial saw about one proxied read in 30,000 take exactly the
// route's timeout (5 s) and then be served by legacy, on the loop only
// (-plain-http: none in 195,000): the loop sets a 50 ms read deadline, builds
// the request and calls writeThenWait, and when the goroutine was held
// longer than that on a busy host, RawConn.Read found the deadline past
// and returned before its callback ran, so the request was never written
// while the caller waited for its answer. writeThenWait now hands the
// unwritten data back, as for a socket that takes only part of it.
func TestWriteThenWaitPastItsDeadlineWritesNothingAndHandsTheDataBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	peer, err := ln.Accept()
	require.NoError(t, err)
	defer peer.Close()

	in := &prefilled{nc: client}
	w := newRawWaiter(client, in, nil)
	require.NotNil(t, w)
	require.NoError(t, client.SetReadDeadline(time.Now().Add(-time.Millisecond)))
	data := []byte("GET /users/7 HTTP/1.1\r\nHost: new\r\n\r\n")

	rest, err := w.writeThenWait(data)
	require.NoError(t, err, "a deadline past before the wait is not the exchange's failure: nothing was sent yet")
	assert.Equal(t, data, rest, "everything is left to the caller to write")

	_, err = client.Write(rest) // what the caller does with rest
	require.NoError(t, err)
	got := make([]byte, len(data))
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.ReadFull(peer, got)
	require.NoError(t, err)
	assert.Equal(t, string(data), string(got), "the request reaches the peer once, whole")

	// A deadline that passes while waiting for an answer still ends the
	// call with the timeout, the data written.
	require.NoError(t, client.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	rest, err = w.writeThenWait(data)
	assert.Nil(t, rest)
	require.Error(t, err)
	assert.True(t, isTimeout(err), "%v", err)
	_, err = io.ReadFull(peer, got)
	require.NoError(t, err)
	assert.Equal(t, string(data), string(got))
}
