package commerce

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// Reply is a shopper's reply (or mention) that the bot matched to one
// offer, whatever came of it: a hold, a cart line, a question about the
// variant, a sold-out or over-limit answer. It is the first stage of the
// merchant's funnel.
type Reply struct {
	// EventID is the X event the reply came in; a reply is recorded once.
	EventID    string
	MerchantID string
	OfferID    string
	BuyerID    string
	Intent     Intent
	At         time.Time
}

// StockLevel is one stock counter of an offer as holds see it: Held units
// are reserved for buyers who have not paid yet, Sold are paid for. Total
// is nil for unlimited stock. Variant is the variant's name for offers whose
// variants carry stock, "" for an offer-wide counter.
type StockLevel struct {
	OfferID string
	Variant string
	Total   *int
	Held    int
	Sold    int
}

// Available is the units left to hold, nil for unlimited.
func (l StockLevel) Available() *int {
	if l.Total == nil {
		return nil
	}
	n := *l.Total - l.Held - l.Sold
	return &n
}

// OfferFunnel counts what happened to one offer in a period. Each stage
// counts things that started within the period:
//
//   - Replies: replies matched to the offer (see Reply).
//   - Holds: holds made on the offer (a buyer replying again gets the same
//     hold back and makes none; a reminder may make a fresh one).
//   - LinksOpened: those holds whose checkout page the buyer opened.
//   - Paid: orders for the offer that are paid or fulfilled (one-tap "YES"
//     purchases are paid without opening a page).
//   - Reminders: reminder DMs sent about the offer (hold reminders, and
//     cart reminders for carts holding it).
//   - Recovered: buyers reminded about the offer who paid for it after
//     their first reminder was sent.
type OfferFunnel struct {
	OfferID     string
	Replies     int
	Holds       int
	LinksOpened int
	Paid        int
	Reminders   int
	Recovered   int
}

// ordersCSVHeader is the first row of WriteOrdersCSV.
var ordersCSVHeader = []string{"order", "status", "created_at", "items", "total", "currency", "name", "line1", "line2", "city", "region", "postal_code", "country", "email", "payment"}

// WriteOrdersCSV writes orders as CSV, one row per order after a header:
// the reference, status, creation time (RFC 3339, UTC), the items
// ("2 × Signed vinyl (red); ..."), the total as a decimal a spreadsheet
// reads ("50.00") and its currency, the shipping address, email and the
// payment reference. It holds personal data: write it only for the
// orders' merchant.
func WriteOrdersCSV(w io.Writer, orders []Order) error {
	cw := csv.NewWriter(w)
	cw.Write(ordersCSVHeader)
	for _, o := range orders {
		items := make([]string, len(o.Lines))
		for i, l := range o.Lines {
			items[i] = strconv.Itoa(l.Quantity) + " × " + l.Title
			if l.Variant != "" {
				items[i] += " (" + l.Variant + ")"
			}
		}
		a := o.Shipping
		cw.Write([]string{o.Reference(), string(o.Status), o.CreatedAt.UTC().Format(time.RFC3339), strings.Join(items, "; "),
			o.Total.Decimal(), o.Total.Currency, a.Name, a.Line1, a.Line2, a.City, a.Region, a.PostalCode, a.Country, o.Contact.Email, o.PaymentRef})
	}
	cw.Flush()
	return cw.Error()
}

// Decimal writes the amount as a plain decimal with the currency's minor
// digits and no symbol, as a spreadsheet reads it: "25.00", "2500" for JPY.
// An unknown currency is written in minor units.
func (m Money) Decimal() string {
	exp, ok := CurrencyExponent(m.Currency)
	if !ok {
		exp = 0
	}
	return formatMinor(m.Amount, exp)
}
