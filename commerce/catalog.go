package commerce

import (
	"slices"
	"time"
)

// Merchant is a shop: an X account that posts offers.
type Merchant struct {
	ID         string
	Name       string
	XUserID    string
	ScreenName string
	Currency   string
	Offers     []*Offer
}

// Offer is something for sale (or to claim, when its price is zero) by
// replying to one of its posts.
type Offer struct {
	MerchantID string
	ID         string
	Title      string
	Price      Money
	// Stock is the number of units; nil means unlimited.
	Stock *int
	// PerCustomerLimit caps the units one buyer may hold and buy; 0 means
	// no limit.
	PerCustomerLimit int
	// StartsAt and EndsAt bound when the offer is on sale; zero means open.
	StartsAt, EndsAt time.Time
	PostIDs          []string
	// BuyTags and CartTags are normalized (lowercase, no '#').
	BuyTags, CartTags []string
	// Keywords are normalized the same way as words of a post.
	Keywords []string
	ShipTo   []string
	Variants []Variant
}

// Variant is a choice within an offer (a colour, a size).
type Variant struct {
	// Name is as configured; Key is its normalized form for matching.
	Name string
	Key  string
	// Stock is nil when the offer's stock is shared by all variants.
	Stock *int
}

// Free reports whether the offer is a giveaway (no payment step).
func (o *Offer) Free() bool { return o.Price.Amount == 0 }

// Availability says whether o is on sale at now.
func (o *Offer) Availability(now time.Time) error {
	if !o.StartsAt.IsZero() && now.Before(o.StartsAt) {
		return ErrNotOnSale
	}
	if !o.EndsAt.IsZero() && !now.Before(o.EndsAt) {
		return ErrEnded
	}
	return nil
}

// StockKey names the stock counter a reservation of variant draws from:
// the variant's own when variants carry stock, else the offer's ("").
func (o *Offer) StockKey(variant string) string {
	for _, v := range o.Variants {
		if v.Name == variant && v.Stock != nil {
			return v.Name
		}
	}
	return ""
}

// StockCounters lists every counter of the offer with its total (nil =
// unlimited): one per variant when variants carry stock, else one for the
// offer.
func (o *Offer) StockCounters() map[string]*int {
	out := map[string]*int{}
	for _, v := range o.Variants {
		if v.Stock != nil {
			out[v.Name] = v.Stock
		}
	}
	if len(out) == 0 {
		out[""] = o.Stock
	}
	return out
}

// Variant returns the variant with the given configured name.
func (o *Offer) Variant(name string) (Variant, bool) {
	for _, v := range o.Variants {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}

// Catalog is the set of merchants and offers in force. It is immutable;
// a reload builds a new one.
type Catalog struct {
	merchants map[string]*Merchant
	byXUser   map[string]*Merchant
	byPost    map[string][]*Offer
}

// NewCatalog indexes merchants. Offers keep the order given.
func NewCatalog(merchants []*Merchant) *Catalog {
	c := &Catalog{
		merchants: map[string]*Merchant{},
		byXUser:   map[string]*Merchant{},
		byPost:    map[string][]*Offer{},
	}
	for _, m := range merchants {
		c.merchants[m.ID] = m
		c.byXUser[m.XUserID] = m
		for _, o := range m.Offers {
			for _, p := range o.PostIDs {
				c.byPost[p] = append(c.byPost[p], o)
			}
		}
	}
	return c
}

// Merchant returns the merchant with id.
func (c *Catalog) Merchant(id string) (*Merchant, bool) {
	m, ok := c.merchants[id]
	return m, ok
}

// MerchantByXUserID returns the merchant whose X account is id.
func (c *Catalog) MerchantByXUserID(id string) (*Merchant, bool) {
	m, ok := c.byXUser[id]
	return m, ok
}

// Merchants returns every merchant, sorted by id.
func (c *Catalog) Merchants() []*Merchant {
	out := make([]*Merchant, 0, len(c.merchants))
	for _, m := range c.merchants {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *Merchant) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// Offer returns a merchant's offer by id.
func (c *Catalog) Offer(merchantID, offerID string) (*Offer, bool) {
	m, ok := c.merchants[merchantID]
	if !ok {
		return nil, false
	}
	for _, o := range m.Offers {
		if o.ID == offerID {
			return o, true
		}
	}
	return nil, false
}
