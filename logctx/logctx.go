// Package logctx carries log attributes, such as a request id or an inbox
// event id, in a context, and adds them to every record logged with that
// context. Code that logs with the ...Context methods of slog.Logger (or
// Logger.Log) gets them without knowing where they came from.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns a context whose log records carry attrs, after those ctx
// already carries.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(key{}).([]slog.Attr)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	all = append(all, prev...)
	all = append(all, attrs...)
	return context.WithValue(ctx, key{}, all)
}

// Attrs returns the attributes ctx carries, or nil.
func Attrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	a, _ := ctx.Value(key{}).([]slog.Attr)
	return a
}

// Value returns the string value of the attribute named name that ctx
// carries, or "".
func Value(ctx context.Context, name string) string {
	for _, a := range Attrs(ctx) {
		if a.Key == name {
			return a.Value.String()
		}
	}
	return ""
}

// Handler adds the attributes of the record's context to each record
// before passing it to the wrapped handler.
type Handler struct{ slog.Handler }

// NewHandler wraps h.
func NewHandler(h slog.Handler) *Handler { return &Handler{Handler: h} }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if attrs := Attrs(ctx); len(attrs) > 0 {
		r = r.Clone()
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{Handler: h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{Handler: h.Handler.WithGroup(name)}
}
