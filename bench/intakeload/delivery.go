package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
)

// signatureHeader is the header X signs deliveries with.
const signatureHeader = "x-twitter-webhooks-signature"

// deliveries builds signed tweet_create deliveries whose event ids are
// unique within a run (run id + sequence number), so that repeated runs
// against one database are not deduplicated. It is not safe for concurrent
// use: each sender owns one.
type deliveries struct {
	runID     string
	forUserID string
	perBody   int
	mac       hash.Hash
	sig       []byte
}

func newDeliveries(secret, runID, forUserID string, eventsPerDelivery int) *deliveries {
	return &deliveries{
		runID:     runID,
		forUserID: forUserID,
		perBody:   eventsPerDelivery,
		mac:       hmac.New(sha256.New, []byte(secret)),
	}
}

// build returns the body of delivery number seq (its events are numbered
// seq*perBody ...) and its signature header value.
func (d *deliveries) build(seq uint64) (body []byte, signature string) {
	body = make([]byte, 0, 96+d.perBody*200)
	body = append(body, `{"for_user_id":"`...)
	body = append(body, d.forUserID...)
	body = append(body, `","tweet_create_events":[`...)
	for i := range d.perBody {
		if i > 0 {
			body = append(body, ',')
		}
		n := seq*uint64(d.perBody) + uint64(i)
		body = append(body, `{"id_str":"`...)
		body = appendEventID(body, d.runID, n)
		body = append(body, `","text":"@acme #BuyNow","user":{"id_str":"`...)
		body = strconv.AppendUint(body, 1000+n%5000, 10)
		body = append(body, `","screen_name":"shopper`...)
		body = strconv.AppendUint(body, n%5000, 10)
		body = append(body, `"},"in_reply_to_status_id_str":"1860000000000000002"}`...)
	}
	body = append(body, "]}"...)
	return body, d.sign(body)
}

// appendEventID appends a 19-digit, snowflake-like id: "19", the run id and
// n zero-padded to 11 digits.
func appendEventID(b []byte, runID string, n uint64) []byte {
	b = append(b, "19"...)
	b = append(b, runID...)
	s := strconv.FormatUint(n, 10)
	for i := len(s); i < 11; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// sign is "sha256=" + base64(HMAC-SHA256(key = secret, message = body)).
func (d *deliveries) sign(body []byte) string {
	d.mac.Reset()
	d.mac.Write(body)
	d.sig = d.mac.Sum(d.sig[:0])
	return "sha256=" + base64.StdEncoding.EncodeToString(d.sig)
}
