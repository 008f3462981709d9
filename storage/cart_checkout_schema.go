package storage

// cartCheckoutSchema lets a cart be checked out as one order.
//
// holds.cart_id names the cart a hold was made for (NULL for a #BuyNow
// hold). A buyer keeps at most one active #BuyNow hold per offer; a cart's
// holds are outside that rule (a cart may hold two variants of one offer),
// and the per-customer limit still counts every hold.
//
// order_holds lists the holds an order pays for when there are several (a
// cart's order). A single-hold order has no rows here: orders.hold_id is
// its hold, as before. A cart's order keeps its first hold in
// orders.hold_id, so a hold is in at most one order either way.
const cartCheckoutSchema = `
ALTER TABLE holds ADD COLUMN cart_id {{bigint}};
DROP INDEX holds_one_active;
CREATE UNIQUE INDEX holds_one_active ON holds (merchant_id, offer_id, buyer_id) WHERE status = 'active' AND cart_id IS NULL;
CREATE INDEX holds_by_cart ON holds (cart_id) WHERE cart_id IS NOT NULL;
CREATE TABLE order_holds (
	hold_id  {{bigint}} PRIMARY KEY,
	order_id {{bigint}} NOT NULL REFERENCES orders (id)
);
CREATE INDEX order_holds_by_order ON order_holds (order_id, hold_id);
`
