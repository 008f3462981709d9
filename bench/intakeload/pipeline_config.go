package main

import (
	"fmt"
	"strconv"
)

// pipelineSettings are the parts of the hashcart config a pipeline run
// varies.
type pipelineSettings struct {
	Port           int
	Driver, DSN    string
	APIBaseURL     string
	ConsumerKey    string
	ConsumerSecret string
	MerchantID     string
	ScreenName     string
}

// pipelineConfig renders the hashcart config of a pipeline run: X API v2
// at the simulator, one merchant with an offer on pipelinePostID that has
// neither a stock nor a per-customer limit, an outbox budget far above the
// offered load (no rate limit), 50 ms polls and warn-level logs.
func pipelineConfig(s pipelineSettings) string {
	return fmt.Sprintf(`server:
  listen: "127.0.0.1:%[1]d"
  public_url: "http://127.0.0.1:%[1]d"
  shutdown_timeout: 5s
storage: { driver: %[2]s, dsn: %[3]s }
x:
  api_version: "2"
  api_base_url: %[4]s
  consumer_key: %[5]s
  consumer_secret: %[6]s
intake: { poll_interval: 50ms }
outbox: { per_account: 1000000, per_app: 1000000, poll_interval: 50ms }
log: { level: warn }
merchants:
  - id: acme
    name: Acme Records
    x_user_id: %[7]s
    x_screen_name: %[8]s
    access_token: %[10]s
    access_secret: acme-secret
    currency: USD
    offers:
      - id: tote
        title: Tote bag
        price: "25.00"
        post_ids: [%[9]s]
`, s.Port, s.Driver, strconv.Quote(s.DSN), strconv.Quote(s.APIBaseURL), strconv.Quote(s.ConsumerKey),
		strconv.Quote(s.ConsumerSecret), strconv.Quote(s.MerchantID), strconv.Quote(s.ScreenName), strconv.Quote(pipelinePostID),
		strconv.Quote(s.MerchantID+"-acme-token"))
}
