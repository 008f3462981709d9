package demo

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashcart/hashcart/commerce"
)

// receiveOrder is the merchant's order_webhook: it checks the
// Hashcart-Signature as a merchant's system should, records the order once
// per Hashcart-Delivery-Id, and answers 200 so hashcart stops retrying.
func (d *Demo) receiveOrder(w http.ResponseWriter, r *http.Request) {
	merchantID := r.PathValue("id")
	secret, ok := d.opts.OrderSecrets[merchantID]
	if !ok {
		http.Error(w, "unknown merchant", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if !validSignature(secret, r.Header.Get("Hashcart-Signature"), body) {
		d.opts.Log.Warn("demo: order with a bad signature refused", "merchant", merchantID)
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var o commerce.HandoffOrder
	if err := json.Unmarshal(body, &o); err != nil || o.ID == "" {
		http.Error(w, "not an order", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("Hashcart-Delivery-Id")
	if id == "" {
		id = o.DeliveryID
	}
	d.mu.Lock()
	if !d.delivery[id] {
		d.delivery[id] = true
		d.orders = append(d.orders, received{Order: o, At: d.opts.Now()})
		d.bumpLocked()
	}
	d.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// validSignature checks a "t=<unix>,v1=<hex>" header against body, as
// commerce.SignDelivery makes it.
func validSignature(secret, header string, body []byte) bool {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	want := commerce.SignDelivery(secret, time.Unix(unix, 0), body)
	_, wantSig, _ := strings.Cut(want, ",v1=")
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(wantSig)) {
			return true
		}
	}
	return false
}
