package webhooks

import (
	"fmt"
	"strings"

	"github.com/hashcart/hashcart/commerce"
)

// funnelView is one offer's funnel drawn as a horizontal bar chart in
// inline SVG: the page needs no script and no image request.
type funnelView struct {
	Title         string
	Summary       string // the chart in words, for screen readers
	Width, Height int
	Bars          []barView
	SeparatorY    int
}

// barView is one bar: its stage, count, geometry and the share of the
// stage before it.
type barView struct {
	Label, Note, Class string
	N                  int
	Y, TextY, W, NumX  int
}

// Chart geometry, in SVG user units.
const (
	chartLabelW = 120
	chartBarMax = 270
	chartRow    = 26
	chartBar    = 18
	chartWidth  = chartLabelW + 8 + chartBarMax + 110
)

func newFunnelView(title string, f commerce.OfferFunnel) funnelView {
	type stage struct {
		label, class string
		n, of        int
		ofLabel      string
	}
	stages := []stage{
		{"Replies", "main", f.Replies, 0, ""},
		{"Holds", "main", f.Holds, f.Replies, "replies"},
		{"Links opened", "main", f.LinksOpened, f.Holds, "holds"},
		{"Paid", "paid", f.Paid, f.Holds, "holds"},
		{"Reminders sent", "remind", f.Reminders, 0, ""},
		{"Recovered", "paid", f.Recovered, 0, ""},
	}
	top := 1
	for _, s := range stages {
		top = max(top, s.n)
	}
	v := funnelView{Title: title, Width: chartWidth}
	y := 4
	var words []string
	for i, s := range stages {
		if i == 4 { // the reminders part, under a rule
			v.SeparatorY = y + 2
			y += 10
		}
		w := s.n * chartBarMax / top
		if s.n > 0 {
			w = max(w, 2)
		}
		b := barView{Label: s.label, Class: s.class, N: s.n, Y: y, TextY: y + chartBar - 4, W: w, NumX: chartLabelW + 8 + w + 6}
		if s.of > 0 {
			b.Note = fmt.Sprintf("%d%% of %s", (s.n*100+s.of/2)/s.of, s.ofLabel)
		}
		v.Bars = append(v.Bars, b)
		words = append(words, fmt.Sprintf("%s %d", strings.ToLower(s.label), s.n))
		y += chartRow
	}
	v.Height = y
	v.Summary = title + ": " + strings.Join(words, ", ")
	return v
}
