package ui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/thingpost/thingpost/app"
)

// historyView is a thing's history, newest first, loaded a page at a
// time: commands with their status, the thing's verified replies and
// events.
type historyView struct {
	u       *UI
	id      string
	entries []app.Entry
	next    uint64 // cursor of the next older page; 0: none
	loading bool
	again   bool // a reload was requested while loading
	list    *widget.List
	more    *widget.Button
	empty   *widget.Label
	box     fyne.CanvasObject
}

func newHistory(u *UI, id string) *historyView {
	h := &historyView{u: u, id: id}
	h.list = widget.NewList(func() int { return len(h.entries) }, h.createRow, h.updateRow)
	h.list.OnSelected = func(i widget.ListItemID) {
		h.list.Unselect(i)
		if i < len(h.entries) {
			h.showEntry(h.entries[i])
		}
	}
	h.more = widget.NewButton("Show older", h.loadOlder)
	h.more.Importance = widget.LowImportance
	h.more.Hide()
	h.empty = hint("Nothing yet.")
	h.box = container.NewBorder(nil, container.NewVBox(h.empty, h.more), nil, nil, h.list)
	h.reload()
	return h
}

// reload fetches the newest entries again, as many as are shown.
func (h *historyView) reload() {
	if h.loading {
		h.again = true
		return
	}
	h.loading = true
	limit := min(max(app.DefaultPageSize, len(h.entries)), app.MaxPageSize)
	h.u.background(func(ctx context.Context) error {
		page, err := h.u.core.History(ctx, h.id, app.HistoryQuery{Limit: limit})
		if err != nil {
			return err
		}
		h.u.post(func() {
			h.entries, h.next = page.Entries, page.Next
			h.show()
		})
		return nil
	}, h.loaded)
}

// loadOlder appends the next older page.
func (h *historyView) loadOlder() {
	if h.loading || h.next == 0 {
		return
	}
	h.loading = true
	before := h.next
	h.u.background(func(ctx context.Context) error {
		page, err := h.u.core.History(ctx, h.id, app.HistoryQuery{Before: before})
		if err != nil {
			return err
		}
		h.u.post(func() {
			h.entries = append(h.entries, page.Entries...)
			h.next = page.Next
			h.show()
		})
		return nil
	}, h.loaded)
}

func (h *historyView) loaded(err error) {
	h.loading = false
	if err != nil {
		h.u.notifyError("History", err)
	}
	if h.again {
		h.again = false
		h.reload()
	}
}

func (h *historyView) show() {
	if h.next != 0 {
		h.more.Show()
	} else {
		h.more.Hide()
	}
	if len(h.entries) == 0 {
		h.empty.Show()
	} else {
		h.empty.Hide()
	}
	h.list.Refresh()
}

// historyRow is the widgets of one line.
type historyRow struct {
	kind     *canvas.Image
	text     *widget.Label
	verified *canvas.Image
	meta     *widget.Label
	when     *widget.Label
}

func (h *historyView) createRow() fyne.CanvasObject {
	r := &historyRow{
		kind:     sizedIcon(theme.MailSendIcon(), 20),
		text:     widget.NewLabel(""),
		verified: sizedIcon(theme.NewSuccessThemedResource(icon("verified")), 14),
		meta:     widget.NewLabel(""),
		when:     widget.NewLabel(""),
	}
	r.text.Truncation = fyne.TextTruncateEllipsis
	r.meta.SizeName = theme.SizeNameCaptionText
	r.when.SizeName = theme.SizeNameCaptionText
	r.when.Importance = widget.LowImportance
	meta := container.NewHBox(container.NewCenter(r.verified), r.meta)
	row := container.NewBorder(nil, nil, container.NewCenter(r.kind), container.NewCenter(r.when),
		container.New(&tightVBox{}, r.text, meta))
	w := &rowWidget{r: r, content: row}
	w.ExtendBaseWidget(w)
	return w
}

// rowWidget is one line of the list, keeping its parts at hand.
type rowWidget struct {
	widget.BaseWidget
	r       *historyRow
	content fyne.CanvasObject
}

func (w *rowWidget) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(w.content) }

func (h *historyView) updateRow(i widget.ListItemID, o fyne.CanvasObject) {
	if i >= len(h.entries) {
		return
	}
	r := o.(*rowWidget).r
	e := h.entries[i]
	text, meta, imp, res := describeEntry(&e)
	r.text.SetText(text)
	r.meta.Importance = imp
	r.meta.SetText(meta)
	r.kind.Resource = res
	r.kind.Refresh()
	if e.Verified && e.Kind != app.EntryCommand {
		r.verified.Show()
	} else {
		r.verified.Hide()
	}
	r.when.SetText(clock(e.Time, time.Now()))
}

// describeEntry is the text, the line under it, its importance and the
// icon of a history entry.
func describeEntry(e *app.Entry) (text, meta string, imp widget.Importance, res fyne.Resource) {
	switch e.Kind {
	case app.EntryCommand:
		text = "You: " + e.Text
		meta = "Sent by you · " + statusText(e.Status)
		res = theme.MailSendIcon()
		switch e.Status {
		case app.StatusAnswered:
			imp = widget.SuccessImportance
		case app.StatusRefused, app.StatusFailed:
			imp = widget.DangerImportance
		case app.StatusExpired:
			imp = widget.WarningImportance
			meta += " · no answer in time"
		default:
			imp = widget.LowImportance
		}
		return text, meta, imp, res
	case app.EntryReply:
		text, meta, res = e.Text, "Verified reply", theme.MailReplyIcon()
		if e.Reply != nil && !e.Reply.OK {
			meta = "Verified refusal"
			if e.Reply.Reason != "" {
				meta += ": " + e.Reply.Reason
			}
			imp = widget.DangerImportance
		} else {
			imp = widget.SuccessImportance
		}
	case app.EntryEvent:
		text, meta, res, imp = e.Text, "Verified event", theme.InfoIcon(), widget.SuccessImportance
		if e.Event != nil && e.Event.Kind != "" {
			meta += " · " + label(e.Event.Kind)
		}
	case app.EntryPaired:
		text, meta, res, imp = e.Text, "Paired", theme.ConfirmIcon(), widget.LowImportance
	default:
		text, meta, res, imp = e.Text, "Verified message", theme.MailComposeIcon(), widget.SuccessImportance
	}
	if !e.Verified {
		meta, imp = "Not verified", widget.WarningImportance
	}
	return text, meta, imp, res
}

// showEntry shows an entry in full.
func (h *historyView) showEntry(e app.Entry) {
	text, meta, _, _ := describeEntry(&e)
	body := wrapLabel(text)
	lines := []fyne.CanvasObject{body, hint(meta), hint(e.Time.Local().Format("Monday 2 January 2006, 15:04:05"))}
	if e.MessageID != "" {
		id := widget.NewLabel(fmt.Sprintf("Message-ID <%s>", e.MessageID))
		id.Selectable = true
		id.SizeName = theme.SizeNameCaptionText
		lines = append(lines, id)
	}
	d := dialog.NewCustom(label(string(e.Kind)), "Close", fixedWidth(container.NewVBox(lines...), 420), h.u.win)
	d.Show()
}
