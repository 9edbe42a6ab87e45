// Copyright (c) 2026 ghostguard developers
// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later

// reloader is the test lab's self-reloading gRPC service: TLS whose certificate is swapped
// atomically when the files change on disk, with no signal, the way the incident's Go services
// were fixed.  Two watch styles, as real services do it:
//
//	-watch dir   fsnotify on the directory of -cert and -key; any Create, Rename, Write or
//	             Remove of an entry there triggers a reload (Kubernetes-style consumers).
//	-watch file  fsnotify on the two files themselves, reacting to Write (the most common Go
//	             pattern); a removed or renamed file is watched again when it reappears.
//
// A reload loads the certificate and the key TOGETHER and keeps the old pair when the new one
// does not load or does not match: such a pair is "refused".  Every event is one JSON line on
// stdout (or -log): {"event":"loaded"|"reloaded"|"refused"|"unchanged", ...}.  Build offline from
// Debian's packages: GO111MODULE=off GOPATH=/usr/share/gocode go build.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

type keeper struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
	fingerprint       atomic.Value
	out               io.Writer
	mu                sync.Mutex
}

func (k *keeper) emit(fields map[string]interface{}) {
	fields["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	line, _ := json.Marshal(fields)
	k.mu.Lock()
	defer k.mu.Unlock()
	fmt.Fprintln(k.out, string(line))
}

func colonHex(sum [32]byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}

// load reads the pair; on success it becomes the served certificate, on failure the old stays.
func (k *keeper) load(cause string) error {
	pair, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		k.emit(map[string]interface{}{"event": "refused", "cause": cause, "error": err.Error(),
			"serving": k.fingerprint.Load()})
		return err
	}
	fp := colonHex(sha256.Sum256(pair.Certificate[0]))
	old, _ := k.fingerprint.Load().(string)
	if fp == old {
		k.emit(map[string]interface{}{"event": "unchanged", "cause": cause, "fingerprint": fp})
		return nil
	}
	k.current.Store(&pair)
	k.fingerprint.Store(fp)
	event := "reloaded"
	if old == "" {
		event = "loaded"
	}
	k.emit(map[string]interface{}{"event": event, "cause": cause, "fingerprint": fp, "previous": old})
	return nil
}

func (k *keeper) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.current.Load(), nil
}

// watchDir reloads on any change of an entry in the directories holding the two files.
func (k *keeper) watchDir(w *fsnotify.Watcher) {
	dirs := map[string]bool{filepath.Dir(k.certFile): true, filepath.Dir(k.keyFile): true}
	for dir := range dirs {
		if err := w.Add(dir); err != nil {
			log.Fatalf("watch %s: %v", dir, err)
		}
	}
	k.loop(w, fsnotify.Create|fsnotify.Rename|fsnotify.Write|fsnotify.Remove, nil)
}

// watchFiles reloads on Write of either file and re-adds a watch on a file that was replaced.
func (k *keeper) watchFiles(w *fsnotify.Watcher) {
	for _, f := range []string{k.certFile, k.keyFile} {
		if err := w.Add(f); err != nil {
			log.Fatalf("watch %s: %v", f, err)
		}
	}
	rewatch := func(ev fsnotify.Event) {
		if ev.Op&(fsnotify.Remove|fsnotify.Rename) == 0 {
			return
		}
		for i := 0; i < 50; i++ {
			if err := w.Add(ev.Name); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	k.loop(w, fsnotify.Write, rewatch)
}

func (k *keeper) loop(w *fsnotify.Watcher, mask fsnotify.Op, after func(fsnotify.Event)) {
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if after != nil {
				after(ev)
			}
			if ev.Op&mask != 0 {
				_ = k.load(ev.Op.String() + " " + filepath.Base(ev.Name))
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			k.emit(map[string]interface{}{"event": "watch_error", "error": err.Error()})
		}
	}
}

func main() {
	certFile := flag.String("cert", "", "certificate (or full chain) PEM file")
	keyFile := flag.String("key", "", "private key PEM file")
	listen := flag.String("listen", "127.0.0.1:0", "address to serve gRPC over TLS on")
	watch := flag.String("watch", "dir", "dir: watch the directory; file: watch the two files for Write")
	logFile := flag.String("log", "", "append JSON event lines here (default stdout)")
	portFile := flag.String("port-file", "", "write the bound port here once listening")
	flag.Parse()
	if *certFile == "" || *keyFile == "" || (*watch != "dir" && *watch != "file") {
		flag.Usage()
		os.Exit(2)
	}
	k := &keeper{certFile: *certFile, keyFile: *keyFile, out: os.Stdout}
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			log.Fatalf("log: %v", err)
		}
		defer f.Close()
		k.out = f
	}
	if err := k.load("start"); err != nil {
		log.Fatalf("no usable certificate at start: %v", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Fatalf("fsnotify: %v", err)
	}
	if *watch == "dir" {
		go k.watchDir(w)
	} else {
		go k.watchFiles(w)
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	if *portFile != "" {
		tmp := *portFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", port)), 0o644); err != nil {
			log.Fatalf("port file: %v", err)
		}
		if err := os.Rename(tmp, *portFile); err != nil {
			log.Fatalf("port file: %v", err)
		}
	}
	creds := credentials.NewTLS(&tls.Config{GetCertificate: k.getCertificate, MinVersion: tls.VersionTLS12})
	srv := grpc.NewServer(grpc.Creds(creds))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	k.emit(map[string]interface{}{"event": "listening", "port": port, "watch": *watch})
	if err := srv.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
}
