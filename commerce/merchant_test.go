package commerce

import (
	"strings"
	"testing"
	"time"
)

func TestWriteOrdersCSVWritesOneRowPerOrderWithTheAddress(t *testing.T) {
	o := Order{ID: 7, Status: OrderPaid, CreatedAt: time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC),
		Lines:    []OrderLine{{Title: "Signed vinyl", Variant: "red", Quantity: 2}, {Title: "Tote, large", Quantity: 1}},
		Total:    Money{Amount: 6800, Currency: "USD"},
		Shipping: Address{Name: "Ada Lovelace", Line1: "221 Kent Avenue", City: "Brooklyn", Region: "NY", PostalCode: "11249", Country: "US"},
		Contact:  Contact{Email: "ada@example.com"}, PaymentRef: "ch_1"}
	yen := Order{ID: 8, Status: OrderPending, CreatedAt: o.CreatedAt, Total: Money{Amount: 2500, Currency: "JPY"}}
	var b strings.Builder
	if err := WriteOrdersCSV(&b, []Order{o, yen}); err != nil {
		t.Fatal(err)
	}
	want := "order,status,created_at,items,total,currency,name,line1,line2,city,region,postal_code,country,email,payment\n" +
		"HC-000007,paid,2026-12-01T17:00:00Z,\"2 × Signed vinyl (red); 1 × Tote, large\",68.00,USD,Ada Lovelace,221 Kent Avenue,,Brooklyn,NY,11249,US,ada@example.com,ch_1\n" +
		"HC-000008,pending,2026-12-01T17:00:00Z,,2500,JPY,,,,,,,,,\n"
	if b.String() != want {
		t.Errorf("csv:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestStockLevelAvailable(t *testing.T) {
	ten := 10
	if n := (StockLevel{Total: &ten, Held: 3, Sold: 2}).Available(); n == nil || *n != 5 {
		t.Errorf("10 - 3 held - 2 sold = %v, want 5", n)
	}
	if n := (StockLevel{Held: 3}).Available(); n != nil {
		t.Errorf("unlimited stock: %v, want nil", *n)
	}
}
