// Package commerce holds hashcart's domain: offers, holds, carts, checkout,
// payments, orders, and the money and place types they are built on.
//
// It is pure Go. It never imports Fiber, GORM or any other transport or
// storage package; those adapt to the types and interfaces declared here.
//
// Money is always an integer count of minor units (cents, yen, fils) with an
// ISO 4217 currency code, never a float: see [Money], [ParseAmount] and
// [CurrencyExponent]. Shipping destinations are ISO 3166-1 alpha-2 codes,
// checked with [ValidCountry].
package commerce
