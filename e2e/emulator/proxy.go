package emulator

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// serveProxy is an HTTP CONNECT proxy. It tunnels "host:443" of every host
// the emulator knows to the emulator's TLS listener and refuses everything
// else with 502, recording the target so tests can assert that nothing
// leaked. Plain-HTTP proxy requests are always refused: tokens go over TLS.
func (e *Emulator) serveProxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		e.stats.refuse("http://" + r.Host)
		e.logf("proxy: refused plain HTTP %s %s", r.Method, r.Host)
		http.Error(w, "acr-emulator proxy: plain HTTP is not forwarded", http.StatusBadGateway)
		return
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || port != "443" || !e.knownHost(host) {
		e.stats.refuse(r.Host)
		e.logf("proxy: refused CONNECT %s", r.Host)
		http.Error(w, "acr-emulator proxy: unknown host "+r.Host, http.StatusBadGateway)
		return
	}
	e.stats.hit(counterProxyConnect, counterProxyConnect+"@"+strings.ToLower(host))
	upstream, err := net.DialTimeout("tcp", e.tlsLn.Addr().String(), 10*time.Second)
	if err != nil {
		http.Error(w, "acr-emulator proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "acr-emulator proxy: hijacking unsupported", http.StatusInternalServerError)
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	if _, err := client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		client.Close()
		upstream.Close()
		return
	}
	e.tunnels.run(client, buf.Reader, upstream)
}

// tunnelSet tracks open tunnels so Close can end them.
type tunnelSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func newTunnelSet() *tunnelSet { return &tunnelSet{conns: map[net.Conn]struct{}{}} }

func (t *tunnelSet) add(cs ...net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	for _, c := range cs {
		t.conns[c] = struct{}{}
	}
	return true
}

func (t *tunnelSet) remove(cs ...net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range cs {
		delete(t.conns, c)
	}
}

func (t *tunnelSet) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for c := range t.conns {
		c.Close()
	}
	t.conns = map[net.Conn]struct{}{}
}

// run copies bytes both ways until either side closes. clientR holds any
// bytes the HTTP server had already buffered from the client.
func (t *tunnelSet) run(client net.Conn, clientR io.Reader, upstream net.Conn) {
	if !t.add(client, upstream) {
		client.Close()
		upstream.Close()
		return
	}
	defer t.remove(client, upstream)
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(upstream, clientR)
		closeWrite(upstream)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(client, upstream)
		closeWrite(client)
		done <- struct{}{}
	}()
	<-done
	<-done
	client.Close()
	upstream.Close()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
		return
	}
	_ = c.Close()
}
