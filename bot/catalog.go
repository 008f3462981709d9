package bot

import (
	"strings"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/config"
)

// CatalogFromConfig builds the commerce catalog from a valid configuration,
// with tags, keywords and variant names normalized the way Parse reads
// posts, so that matching compares like with like.
func CatalogFromConfig(cfg *config.Config) *commerce.Catalog {
	merchants := make([]*commerce.Merchant, 0, len(cfg.Merchants))
	for _, cm := range cfg.Merchants {
		m := &commerce.Merchant{ID: cm.ID, Name: cm.Name, XUserID: cm.XUserID, ScreenName: cm.XScreenName, Currency: cm.Currency}
		for _, co := range cm.Offers {
			o := &commerce.Offer{
				MerchantID: cm.ID, ID: co.ID, Title: co.Title, Price: co.Amount, Stock: co.Stock,
				PerCustomerLimit: co.PerCustomerLimit, PostIDs: co.PostIDs, ShipTo: co.ShipTo,
			}
			if co.StartsAt != nil {
				o.StartsAt = co.StartsAt.UTC()
			}
			if co.EndsAt != nil {
				o.EndsAt = co.EndsAt.UTC()
			}
			for _, t := range co.Hashtags {
				o.BuyTags = append(o.BuyTags, NormalizeTag(t))
			}
			for _, t := range co.CartTags {
				o.CartTags = append(o.CartTags, NormalizeTag(t))
			}
			for _, k := range co.Keywords {
				o.Keywords = append(o.Keywords, normalizeWord(k))
			}
			for _, v := range co.Variants {
				o.Variants = append(o.Variants, commerce.Variant{Name: v.Name, Key: normalizeWord(v.Name), Stock: v.Stock})
			}
			m.Offers = append(m.Offers, o)
		}
		merchants = append(merchants, m)
	}
	return commerce.NewCatalog(merchants)
}

// normalizeWord reads a configured keyword or variant name as Parse reads
// a word of a post. A name of several words matches on its first word.
func normalizeWord(s string) string {
	if w := Parse(s).Words; len(w) > 0 {
		return w[0]
	}
	return strings.ToLower(strings.TrimSpace(s))
}
