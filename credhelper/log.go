package credhelper

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// Logging environment variables. Nothing is ever logged to stdout, which
// belongs to the protocol.
const (
	// EnvLogLevel is debug, info, warn (default) or error.
	EnvLogLevel = "DOCKER_CREDENTIAL_ACR_LOG_LEVEL"
	// EnvLogFile names a file that log records are appended to, as JSON
	// lines, at the chosen level; stderr then shows only warnings and errors.
	EnvLogFile = "DOCKER_CREDENTIAL_ACR_LOG_FILE"
)

// newLogger builds the helper's logger: warnings (or the chosen level, when
// no log file is set) on stderr in one human line each, and everything at
// the chosen level in the log file if one is named. Values that look like
// tokens, and attributes named like secrets, are redacted in both.
func newLogger(getenv func(string) string, stderr io.Writer) *slog.Logger {
	level := parseLevel(getenv(EnvLogLevel))
	path := getenv(EnvLogFile)
	stderrLevel := level
	var handlers []slog.Handler
	if path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "docker-credential-acr: warning: log file: %v\n", err)
		} else {
			handlers = append(handlers, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}))
			stderrLevel = max(level, slog.LevelWarn)
		}
	}
	handlers = append(handlers, &lineHandler{w: stderr, level: stderrLevel, mu: &sync.Mutex{}})
	if len(handlers) == 1 {
		return slog.New(handlers[0])
	}
	return slog.New(slog.NewMultiHandler(handlers...))
}

func parseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "error":
		return slog.LevelError
	}
	return slog.LevelWarn
}

// secretKeys are attribute names whose values are never written.
var secretKeys = []string{"secret", "password", "token", "assertion", "authorization"}

// redactAttr hides secret-named attributes and token-shaped values.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return slog.String(a.Key, "[redacted]")
		}
	}
	if a.Value.Kind() == slog.KindString || a.Value.Kind() == slog.KindAny {
		// Any secret the process remembers, not only JWT-shaped words.
		if v := a.Value.String(); v != "" {
			if r := token.Redact(v); r != strings.Join(strings.Fields(v), " ") {
				return slog.String(a.Key, r)
			}
		}
	}
	return a
}

// lineHandler writes "docker-credential-acr: warning: message k=v" lines.
type lineHandler struct {
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("docker-credential-acr: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	case r.Level < slog.LevelInfo:
		b.WriteString("debug: ")
	}
	b.WriteString(token.Redact(r.Message))
	write := func(a slog.Attr) bool {
		a = redactAttr(nil, a)
		fmt.Fprintf(&b, " %s=%s", a.Key, quoteIfSpaced(a.Value.String()))
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func quoteIfSpaced(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &c
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
