package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	simprinter "printstation/sim/printer"
)

// serveAdmin is the operator's side of the simulated printer, for tests and
// demos: the hand actions a person does with the printer open, over HTTP
// on loopback.
//
//	POST /cover/open   POST /cover/close
//	POST /take                       → {"card": N}
//	POST /put?card=N&at=print|contactless
//	POST /ribbon/remove  POST /ribbon/install   (the cover open; a cleaning cycle runs without a ribbon)
//	GET  /state                      → the simulator's snapshot
func serveAdmin(l net.Listener, sim *simprinter.Sim) error {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, err error) {
		code := http.StatusConflict
		if !errors.Is(err, simprinter.ErrCoverClosed) && !errors.Is(err, simprinter.ErrNoCardInside) {
			code = http.StatusBadRequest
		}
		reply(w, code, map[string]string{"error": err.Error()})
	}
	mux.HandleFunc("POST /cover/open", func(w http.ResponseWriter, r *http.Request) {
		sim.OpenCover()
		reply(w, 200, map[string]bool{"cover_open": true})
	})
	mux.HandleFunc("POST /cover/close", func(w http.ResponseWriter, r *http.Request) {
		sim.CloseCover()
		reply(w, 200, map[string]bool{"cover_open": false})
	})
	mux.HandleFunc("POST /take", func(w http.ResponseWriter, r *http.Request) {
		n, err := sim.TakeOut()
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, map[string]int{"card": n})
	})
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("card"))
		if err != nil {
			reply(w, 400, map[string]string{"error": "card=N is required (the card's number, as /take said)"})
			return
		}
		at := r.URL.Query().Get("at")
		if at == "" {
			at = "print"
		}
		if err := sim.PutBack(n, at); err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, map[string]any{"card": n, "at": at})
	})
	mux.HandleFunc("POST /ribbon/remove", func(w http.ResponseWriter, r *http.Request) {
		if err := sim.RemoveRibbon(); err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, map[string]bool{"ribbon_removed": true})
	})
	mux.HandleFunc("POST /ribbon/install", func(w http.ResponseWriter, r *http.Request) {
		if err := sim.InstallRibbon(); err != nil {
			fail(w, err)
			return
		}
		reply(w, 200, map[string]bool{"ribbon_removed": false})
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, sim.Snapshot())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}
	return srv.Serve(l)
}
