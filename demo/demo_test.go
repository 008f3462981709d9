package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/demo"
	"github.com/hashcart/hashcart/xsim"
)

const (
	secret        = "demo-test-secret"
	merchantUser  = "2244994945"
	merchantToken = "2244994945-acme-token"
	totePost      = "1860000000000000002"
	orderSecret   = "whsec_demo"
)

// hashcartStub is hashcart's X webhook as far as the page can tell: it
// records what arrives.
type hashcartStub struct {
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
}

func (h *hashcartStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.sigs = append(h.sigs, r.Header.Get(xsim.SignatureHeader))
	h.mu.Unlock()
}

type fixture struct {
	sim    *xsim.Server
	api    *httptest.Server // the simulator's X API
	page   *httptest.Server // the demo page
	hook   *hashcartStub
	client *http.Client
}

func setup(t *testing.T) *fixture {
	t.Helper()
	sim := xsim.New(xsim.Options{ConsumerKey: "ck", ConsumerSecret: secret})
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	hook := &hashcartStub{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	stock := 50
	cat := commerce.NewCatalog([]*commerce.Merchant{{
		ID: "acme", Name: "Acme Records", XUserID: merchantUser, ScreenName: "acme", Currency: "USD",
		Offers: []*commerce.Offer{{MerchantID: "acme", ID: "tote", Title: "Acme tote bag", Price: commerce.Money{Amount: 1800, Currency: "USD"},
			Stock: &stock, PostIDs: []string{totePost}, BuyTags: []string{"buynow"}, CartTags: []string{"addtocart"}}},
	}})
	d := demo.New(demo.Options{
		Sim: sim, WebhookURL: hookSrv.URL + "/webhooks/x", Catalog: func() *commerce.Catalog { return cat },
		Tokens: map[string]string{merchantToken: "acme"}, OrderSecrets: map[string]string{"acme": orderSecret},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	page := httptest.NewServer(d.Handler())
	t.Cleanup(page.Close)
	jar, _ := cookiejar.New(nil)
	return &fixture{sim: sim, api: api, page: page, hook: hook, client: &http.Client{Jar: jar, Timeout: 40 * time.Second}}
}

// post sends a form and returns the status and where it ended.
func (f *fixture) post(t *testing.T, path string, form url.Values, header http.Header) (int, *url.URL) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.page.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Request.URL
}

func (f *fixture) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := f.client.Get(f.page.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// A reply typed on the page reaches hashcart's webhook as X sends one: a
// signed tweet_create_events payload from the shopper's stable user id, in
// reply to the offer's post, starting with the merchant's handle.
func TestReplyIsDeliveredToHashcartAsXDeliversIt(t *testing.T) {
	f := setup(t)
	if code, _ := f.post(t, "/demo/handle", url.Values{"handle": {"@Ada"}}, nil); code != 200 {
		t.Fatalf("choose handle: %d", code)
	}
	code, at := f.post(t, "/demo/reply", url.Values{"post_id": {totePost}, "quick": {"#BuyNow"}, "text": {"ignored"}}, nil)
	if code != 200 || at.Query().Get("problem") != "" || at.Path != "/demo" {
		t.Fatalf("reply: %d at %s", code, at)
	}
	f.hook.mu.Lock()
	defer f.hook.mu.Unlock()
	if len(f.hook.bodies) != 1 {
		t.Fatalf("hashcart got %d deliveries, want 1", len(f.hook.bodies))
	}
	body := f.hook.bodies[0]
	if f.hook.sigs[0] != xsim.Sign(secret, body) {
		t.Errorf("delivery signature %q does not verify", f.hook.sigs[0])
	}
	var p struct {
		ForUserID string `json:"for_user_id"`
		Events    []struct {
			Text      string `json:"text"`
			InReplyTo string `json:"in_reply_to_status_id_str"`
			User      struct {
				ID         string `json:"id_str"`
				ScreenName string `json:"screen_name"`
			} `json:"user"`
		} `json:"tweet_create_events"`
	}
	if err := json.Unmarshal(body, &p); err != nil || len(p.Events) != 1 {
		t.Fatalf("payload %s: %v", body, err)
	}
	e := p.Events[0]
	if p.ForUserID != merchantUser || e.Text != "@acme #BuyNow" || e.InReplyTo != totePost || e.User.ID != demo.UserID("ada") || e.User.ScreenName != "Ada" {
		t.Errorf("delivered %+v for %s", e, p.ForUserID)
	}
	if page := f.get(t, "/demo"); !strings.Contains(page, "@acme #BuyNow") {
		t.Errorf("the reply is not in the feed:\n%s", page)
	}
}

func TestFormsAreRefusedWithAClearProblem(t *testing.T) {
	f := setup(t)
	code, _ := f.post(t, "/demo/handle", url.Values{"handle": {"not a handle!"}}, nil)
	if code != http.StatusUnprocessableEntity {
		t.Errorf("bad handle: %d, want 422", code)
	}
	f.post(t, "/demo/handle", url.Values{"handle": {"ada"}}, nil)
	tests := []struct {
		name, path string
		form       url.Values
		header     http.Header
		wantCode   int
		wantIssue  string
	}{
		{"empty reply", "/demo/reply", url.Values{"post_id": {totePost}}, nil, 200, "Write something first."},
		{"unknown post", "/demo/reply", url.Values{"post_id": {"42"}, "text": {"#BuyNow"}}, nil, 200, "not one of the merchant's"},
		{"too long", "/demo/dm", url.Values{"merchant": {"acme"}, "text": {strings.Repeat("a", 281)}}, nil, 200, "280"},
		{"unknown merchant", "/demo/dm", url.Values{"merchant": {"nope"}, "text": {"help"}}, nil, 200, "Choose whom"},
		{"another site's form", "/demo/dm", url.Values{"merchant": {"acme"}, "text": {"help"}}, http.Header{"Origin": {"http://evil.example"}}, 403, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, at := f.post(t, tc.path, tc.form, tc.header)
			if code != tc.wantCode || !strings.Contains(at.Query().Get("problem"), tc.wantIssue) {
				t.Errorf("%d at %s, want %d with %q", code, at, tc.wantCode, tc.wantIssue)
			}
		})
	}
	f.hook.mu.Lock()
	defer f.hook.mu.Unlock()
	if len(f.hook.bodies) != 0 {
		t.Errorf("refused forms still delivered %d events", len(f.hook.bodies))
	}
}

// The long poll waits while nothing changes and answers when the merchant
// posts through the X API, with the answer threaded under the reply.
func TestLiveAnswersWhenTheMerchantReplies(t *testing.T) {
	f := setup(t)
	f.post(t, "/demo/handle", url.Values{"handle": {"ada"}}, nil)
	f.post(t, "/demo/reply", url.Values{"post_id": {totePost}, "text": {"#BuyNow"}}, nil)
	var first struct {
		V int `json:"v"`
	}
	json.Unmarshal([]byte(f.get(t, "/demo/live?v=0")), &first)

	type result struct {
		parts map[string]string
		at    time.Time
	}
	got := make(chan result, 1)
	go func() {
		var s struct {
			Parts map[string]string `json:"parts"`
		}
		resp, err := f.client.Get(f.page.URL + "/demo/live?v=" + jsonInt(first.V))
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
		}
		got <- result{s.Parts, time.Now()}
	}()
	select {
	case r := <-got:
		t.Fatalf("live answered with no change: %v", r.parts)
	case <-time.After(300 * time.Millisecond):
	}
	// The merchant's bot replies through the X API, as hashcart would.
	req, _ := http.NewRequest(http.MethodPost, f.api.URL+"/2/tweets",
		bytes.NewReader([]byte(`{"text":"@ada Got it! Check your DMs","reply":{"in_reply_to_tweet_id":"`+lastReplyID(t, f)+`"}}`)))
	req.Header.Set("Authorization", `OAuth oauth_consumer_key="ck", oauth_token="`+merchantToken+`", oauth_signature_method="HMAC-SHA1", oauth_signature="x", oauth_timestamp="1", oauth_nonce="n"`)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("merchant post: %v %v", resp, err)
	}
	resp.Body.Close()
	select {
	case r := <-got:
		thread := r.parts["thread-"+totePost]
		if !strings.Contains(thread, "@ada Got it! Check your DMs") || strings.Index(thread, "#BuyNow") > strings.Index(thread, "Got it") {
			t.Fatalf("thread after the merchant's reply: %q", thread)
		}
	case <-time.After(10 * time.Second): // a guard against hanging
		t.Fatal("live did not answer after the merchant replied")
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// lastReplyID is the id the page gave the shopper's reply, read back from
// what hashcart was delivered.
func lastReplyID(t *testing.T, f *fixture) string {
	t.Helper()
	f.hook.mu.Lock()
	defer f.hook.mu.Unlock()
	var p struct {
		Events []struct {
			ID string `json:"id_str"`
		} `json:"tweet_create_events"`
	}
	if len(f.hook.bodies) == 0 || json.Unmarshal(f.hook.bodies[len(f.hook.bodies)-1], &p) != nil || len(p.Events) == 0 {
		t.Fatal("no reply was delivered")
	}
	return p.Events[0].ID
}

// The merchant's receiver keeps an order once per delivery id and refuses
// one whose signature does not verify; the page shows what it kept, every
// line of it.
func TestMerchantReceiverChecksSignaturesAndKeepsEachDeliveryOnce(t *testing.T) {
	f := setup(t)
	f.post(t, "/demo/handle", url.Values{"handle": {"ada"}}, nil)
	order := commerce.HandoffOrder{DeliveryID: "dlv_HC-000007_paid", ID: "HC-000007", Merchant: "acme", Status: "paid", BuyerID: demo.UserID("ada"),
		Items: []commerce.HandoffItem{
			{OfferID: "tote", Title: "Acme tote bag", Quantity: 2, UnitPrice: commerce.HandoffMoney{Amount: 1800, Currency: "USD"}},
			{OfferID: "vinyl", Title: "Signed vinyl", Variant: "red", Quantity: 1, UnitPrice: commerce.HandoffMoney{Amount: 2500, Currency: "USD"}},
		},
		Total:    commerce.HandoffMoney{Amount: 6100, Currency: "USD"},
		Shipping: commerce.Address{Name: "Ada", City: "Brooklyn", Region: "NY", Country: "US"}}
	body, _ := json.Marshal(order)
	send := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, f.page.URL+"/demo/merchant/acme/orders", bytes.NewReader(body))
		req.Header.Set("Hashcart-Signature", sig)
		req.Header.Set("Hashcart-Delivery-Id", order.DeliveryID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(commerce.SignDelivery("wrong", time.Now(), body)); code != 400 {
		t.Errorf("bad signature: %d, want 400", code)
	}
	if page := f.get(t, "/demo"); strings.Contains(page, "HC-000007") {
		t.Fatal("an order with a bad signature is shown")
	}
	for i := 0; i < 2; i++ {
		if code := send(commerce.SignDelivery(orderSecret, time.Now(), body)); code != 200 {
			t.Fatalf("delivery %d: %d, want 200", i+1, code)
		}
	}
	page := f.get(t, "/demo")
	if n := strings.Count(page, "HC-000007"); n != 1 {
		t.Errorf("the order shows %d times, want once", n)
	}
	for _, want := range []string{"2 × Acme tote bag; 1 × Signed vinyl (red)", "$61.00", "from @ada", "Brooklyn, NY, US"} {
		if !strings.Contains(page, want) {
			t.Errorf("the merchant's pane lacks %q", want)
		}
	}
}

func TestUserIDIsStablePerHandleAndNotTheMerchants(t *testing.T) {
	if demo.UserID("Ada") != demo.UserID("ada") {
		t.Error("the same handle in another case got another user id")
	}
	if demo.UserID("ada") == demo.UserID("grace") {
		t.Error("two handles share a user id")
	}
	if id := demo.UserID("ada"); len(id) != 16 || id == merchantUser {
		t.Errorf("UserID(ada) = %q", id)
	}
}
