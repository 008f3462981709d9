package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hashcart/hashcart/xsim"
)

// pipelinePostID is the merchant's post the benchmark's shoppers reply to;
// the offer in pipelineConfig lists it.
const pipelinePostID = "1001"

// pipelineEvent is one shopper's signed "#BuyNow" reply, built before the
// run so that encoding and signing are not in the measured path.
type pipelineEvent struct {
	// UserID is the shopper, unique per event: the DM for this event is
	// the one sent to UserID.
	UserID string
	// TweetID is the reply's id, unique per event and run.
	TweetID string
	Body    []byte
	// Signature is the x-twitter-webhooks-signature header value.
	Signature string
}

// pipelineIDs returns the tweet id and shopper id of event n in run runID
// (6 digits): "19" + runID + n in 11 digits, and "7" + runID + n in 9
// digits. Both are unique per (run, n) for n below 10^9.
func pipelineIDs(runID string, n int) (tweetID, userID string) {
	return fmt.Sprintf("19%s%011d", runID, n), fmt.Sprintf("7%s%09d", runID, n)
}

// buildPipelineEvent returns event n of a run: a tweet_create delivery for
// merchant replying "@screenName #BuyNow" to pipelinePostID, signed with
// secret as X signs deliveries.
func buildPipelineEvent(secret, merchantID, screenName, runID string, n int, at time.Time) (pipelineEvent, error) {
	tweetID, userID := pipelineIDs(runID, n)
	payload := xsim.TweetCreate(merchantID, xsim.Tweet{
		ID:                  tweetID,
		Text:                "@" + screenName + " #BuyNow",
		UserID:              userID,
		ScreenName:          "shopper" + strconv.Itoa(n),
		InReplyToStatusID:   pipelinePostID,
		InReplyToUserID:     merchantID,
		InReplyToScreenName: screenName,
		At:                  at,
	})
	body, err := json.Marshal(payload)
	if err != nil {
		return pipelineEvent{}, fmt.Errorf("encode event %d: %w", n, err)
	}
	return pipelineEvent{UserID: userID, TweetID: tweetID, Body: body, Signature: xsim.Sign(secret, body)}, nil
}
