package emulator

import (
	"net/http"
)

// localMux serves the plain-HTTP loopback listener: the managed identity
// endpoint, the fake az's endpoint and the control endpoints.
func (e *Emulator) localMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+msiPath, e.serveMSI)
	mux.HandleFunc("GET "+azPath, e.serveAz)
	mux.HandleFunc("GET /_emulator/counts", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, e.Counts())
	})
	mux.HandleFunc("GET /_emulator/refused", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, e.RefusedHosts())
	})
	mux.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, _ *http.Request) {
		e.ResetCounts()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
