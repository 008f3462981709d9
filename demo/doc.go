// Package demo is the page of `hashcart demo`: a small stand-in for X and
// for the merchant's order system, so one person can rehearse a drop in a
// browser. It shows the merchant's offer posts as a feed with the replies
// under them, the shopper's direct messages in an inbox, and the orders the
// merchant's order_webhook received.
//
// It is a fake of X's users and of the merchant, never of hashcart: a reply
// or DM typed on the page is delivered to hashcart's webhook as X delivers
// it (xsim.Deliver with xsim.TweetCreate or xsim.DirectMessage), and what
// hashcart answers is read back from the X simulator's records. The page is
// server-rendered (html/template) and kept live by a long poll; it works
// without JavaScript, only without live updates.
package demo
