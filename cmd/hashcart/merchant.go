package main

import (
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/webhooks"
)

// merchantPageRefresh is how often an open merchant page reloads itself.
const merchantPageRefresh = 30 * time.Second

// mountMerchantPage serves /merchant to the merchants that have a
// dashboard_token. Sessions are signed with a key derived from the X
// consumer secret, so every instance accepts them.
func mountMerchantPage(app fiber.Router, svc *service, cfg *config.Config, log *slog.Logger) {
	var access []webhooks.MerchantAccess
	for _, m := range cfg.Merchants {
		if m.DashboardToken != "" {
			access = append(access, webhooks.MerchantAccess{ID: m.ID, Token: m.DashboardToken})
		}
	}
	(&webhooks.MerchantPage{
		Access: access, Shop: svc.db.Shop(), Orders: svc.db.Orders(), Catalog: svc.catalog.Load,
		SessionKey: derive(cfg.X.ConsumerSecret, "merchant-session"),
		Secure:     strings.HasPrefix(cfg.Server.PublicURL, "https://"),
		Refresh:    merchantPageRefresh, Now: time.Now, Log: log,
	}).Mount(app)
}
