package xsim

import (
	"encoding/json"
	"net/http"
)

// dmClosedMessage is what X says when the recipient does not accept direct
// messages from the sender.
const dmClosedMessage = "You cannot send messages to this user."

// invalidRequest answers a v2 400 in X's invalid-request problem format.
func invalidRequest(w http.ResponseWriter, detail string) {
	p := problem(http.StatusBadRequest, detail)
	p["title"] = "Invalid Request"
	p["type"] = "https://api.twitter.com/2/problems/invalid-request"
	p["errors"] = []map[string]any{{"message": detail}}
	writeJSON(w, http.StatusBadRequest, "application/problem+json", p)
}

// createTweetV2 serves POST /2/tweets.
func (s *Server) createTweetV2(w http.ResponseWriter, r *http.Request, token string) {
	var req struct {
		Text  string `json:"text"`
		Reply *struct {
			InReplyToTweetID string `json:"in_reply_to_tweet_id"`
		} `json:"reply"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		invalidRequest(w, "The request body is not valid JSON.")
		return
	}
	if req.Text == "" {
		invalidRequest(w, "The `text` field is required when no media is attached.")
		return
	}
	inReplyTo := ""
	if req.Reply != nil {
		if !isDigits(req.Reply.InReplyToTweetID) {
			invalidRequest(w, "The `reply.in_reply_to_tweet_id` query parameter value is not valid.")
			return
		}
		inReplyTo = req.Reply.InReplyToTweetID
	}
	p := s.recordPost(token, req.Text, inReplyTo, v2)
	writeJSON(w, http.StatusCreated, "application/json; charset=utf-8", map[string]any{
		"data": map[string]any{"id": p.ID, "text": p.Text, "edit_history_tweet_ids": []string{p.ID}},
	})
}

// sendDMV2 serves POST /2/dm_conversations/with/{participant_id}/messages.
func (s *Server) sendDMV2(w http.ResponseWriter, r *http.Request, token, participantID string) {
	if !isDigits(participantID) {
		invalidRequest(w, "The `participant_id` path parameter value is not valid.")
		return
	}
	var req struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		invalidRequest(w, "The request body is not valid JSON.")
		return
	}
	if req.Text == "" {
		invalidRequest(w, "The `text` field is required when no attachments are given.")
		return
	}
	if s.dmsClosed(participantID) {
		writeJSON(w, http.StatusForbidden, "application/problem+json", problem(http.StatusForbidden, dmClosedMessage))
		return
	}
	d := s.recordDM(token, participantID, req.Text, v2)
	writeJSON(w, http.StatusCreated, "application/json; charset=utf-8", map[string]any{
		"data": map[string]any{
			"dm_conversation_id": conversationID(userIDFromToken(token), participantID),
			"dm_event_id":        d.ID,
		},
	})
}

// conversationID names a one-to-one conversation as X does: the two user ids,
// smaller first, joined by '-'. An unknown sender leaves just the recipient.
func conversationID(a, b string) string {
	if a == "" {
		return b
	}
	if len(a) > len(b) || (len(a) == len(b) && a > b) {
		a, b = b, a
	}
	return a + "-" + b
}

// listDMEventsV2 serves GET /2/dm_conversations/with/{participant_id}/dm_events:
// the messages the token's account sent to the participant, newest first,
// as X's v2 lookup answers (data: [{id, event_type, text}]). It is not
// recorded as a post or a DM.
func (s *Server) listDMEventsV2(w http.ResponseWriter, r *http.Request, token, participantID string) {
	if !isDigits(participantID) {
		invalidRequest(w, "The `participant_id` path parameter value is not valid.")
		return
	}
	var data []map[string]any
	dms := s.DMsTo(participantID)
	for i := len(dms) - 1; i >= 0; i-- {
		if dms[i].AuthorToken != token {
			continue
		}
		data = append(data, map[string]any{"id": dms[i].ID, "event_type": "MessageCreate", "text": dms[i].Text})
		if len(data) == 100 {
			break
		}
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"data": data, "meta": map[string]any{"result_count": len(data)}})
}
