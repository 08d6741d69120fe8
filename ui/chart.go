package ui

import (
	"context"
	"image/color"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/wire"
)

// chartSpan is how far back the chart looks.
const chartSpan = 24 * time.Hour

// chartView is a chart of a numeric property over time, with a choice of
// the property when the thing has several.
type chartView struct {
	u       *UI
	id      string
	props   []wire.Property
	choice  *widget.Select
	chart   *lineChart
	loading bool
	box     fyne.CanvasObject
}

// numericProperties are the properties worth a chart, read-only ones (a
// measured temperature) first.
func numericProperties(t *app.Thing) []wire.Property {
	if t.Capabilities == nil {
		return nil
	}
	var ro, rw []wire.Property
	for _, p := range t.Capabilities.Properties {
		if p.Type != wire.TypeInt && p.Type != wire.TypeFloat {
			continue
		}
		if p.Writable {
			rw = append(rw, p)
		} else {
			ro = append(ro, p)
		}
	}
	return append(ro, rw...)
}

func newChartView(u *UI, t *app.Thing) *chartView {
	c := &chartView{u: u, id: t.ID, props: numericProperties(t), chart: newLineChart()}
	if len(c.props) == 0 {
		return nil
	}
	var names []string
	for _, p := range c.props {
		names = append(names, label(p.Name))
	}
	c.choice = widget.NewSelect(names, func(string) { c.reload() })
	top := container.NewBorder(nil, nil, widget.NewLabelWithStyle("Over the last 24 hours", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), nil)
	if len(names) > 1 {
		top = container.NewBorder(nil, nil, top, c.choice)
	}
	c.box = panel(container.NewBorder(top, nil, nil, nil, c.chart))
	c.choice.SetSelectedIndex(0)
	return c
}

// reload fetches the series of the chosen property.
func (c *chartView) reload() {
	i := c.choice.SelectedIndex()
	if i < 0 || c.loading {
		return
	}
	c.loading = true
	p := c.props[i]
	c.u.background(func(ctx context.Context) error {
		pts, err := c.u.core.Series(ctx, c.id, p.Name, time.Now().Add(-chartSpan))
		if err != nil {
			return err
		}
		c.u.post(func() { c.chart.set(pts, p.ValueSpec) })
		return nil
	}, func(err error) {
		c.loading = false
		if err != nil {
			c.u.notifyError("Chart", err)
		}
	})
}

// lineChart draws points as a line with the value range on the left and
// the time range below.
type lineChart struct {
	widget.BaseWidget
	points []app.Point
	spec   wire.ValueSpec
}

func newLineChart() *lineChart {
	c := &lineChart{}
	c.ExtendBaseWidget(c)
	return c
}

func (c *lineChart) set(pts []app.Point, spec wire.ValueSpec) {
	c.points, c.spec = pts, spec
	c.Refresh()
}

func (c *lineChart) CreateRenderer() fyne.WidgetRenderer {
	return &chartRenderer{c: c}
}

type chartRenderer struct {
	c    *lineChart
	objs []fyne.CanvasObject
}

func (r *chartRenderer) MinSize() fyne.Size { return fyne.NewSize(240, 150) }

func (r *chartRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *chartRenderer) Destroy()                     {}
func (r *chartRenderer) Refresh()                     { r.Layout(r.c.Size()) }

func (r *chartRenderer) Layout(size fyne.Size) {
	r.objs = r.draw(size)
	for _, o := range r.objs {
		o.Refresh()
	}
}

func chartText(s string, col color.Color) *canvas.Text {
	t := canvas.NewText(s, col)
	t.TextSize = theme.Size(theme.SizeNameCaptionText)
	return t
}

// draw builds the chart's objects for size.
func (r *chartRenderer) draw(size fyne.Size) []fyne.CanvasObject {
	fg := theme.Color(theme.ColorNamePlaceHolder)
	grid := theme.Color(colorCardBorder)
	line := theme.Color(theme.ColorNamePrimary)
	pts := r.c.points
	if len(pts) < 2 {
		msg := chartText("Not enough values yet: they come with the thing's answers and events.", fg)
		msg.Move(fyne.NewPos(0, size.Height/2-8))
		return []fyne.CanvasObject{msg}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-1, hi+1
	}
	pad := (hi - lo) * 0.1
	lo, hi = lo-pad, hi+pad
	if m := r.c.spec.Min; m != nil {
		lo = math.Max(lo, *m)
	}
	if m := r.c.spec.Max; m != nil {
		hi = math.Min(hi, *m)
	}
	t0, t1 := pts[0].Time, pts[len(pts)-1].Time
	if !t1.After(t0) {
		t1 = t0.Add(time.Minute)
	}
	const left, bottom = 64, 22
	w, h := size.Width-left, size.Height-bottom
	x := func(t time.Time) float32 { return left + float32(t.Sub(t0).Seconds()/t1.Sub(t0).Seconds())*w }
	y := func(v float64) float32 { return float32((hi-v)/(hi-lo)) * h }
	var objs []fyne.CanvasObject
	prev := ""
	for i := 0; i <= 3; i++ {
		v := lo + (hi-lo)*float64(i)/3
		g := canvas.NewLine(grid)
		g.StrokeWidth = 1
		g.Position1, g.Position2 = fyne.NewPos(left, y(v)), fyne.NewPos(size.Width, y(v))
		objs = append(objs, g)
		if text := number(v, r.c.spec); text != prev { // whole numbers over a narrow range repeat
			lbl := chartText(text, fg)
			lbl.Move(fyne.NewPos(0, y(v)-8))
			objs = append(objs, lbl)
			prev = text
		}
	}
	for i := 1; i < len(pts); i++ {
		seg := canvas.NewLine(line)
		seg.StrokeWidth = 2
		seg.Position1 = fyne.NewPos(x(pts[i-1].Time), y(pts[i-1].Value))
		seg.Position2 = fyne.NewPos(x(pts[i].Time), y(pts[i].Value))
		objs = append(objs, seg)
	}
	last := pts[len(pts)-1]
	dot := canvas.NewCircle(line)
	dot.Move(fyne.NewPos(x(last.Time)-4, y(last.Value)-4))
	dot.Resize(fyne.NewSize(8, 8))
	from := chartText(t0.Local().Format("15:04"), fg)
	from.Move(fyne.NewPos(left, h+4))
	to := chartText(t1.Local().Format("15:04"), fg)
	to.Move(fyne.NewPos(size.Width-to.MinSize().Width, h+4))
	return append(objs, dot, from, to)
}
