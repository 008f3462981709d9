package xsim

import (
	"encoding/json"
	"net/http"
)

// updateStatusV11 serves POST /1.1/statuses/update.json (form body).
func (s *Server) updateStatusV11(w http.ResponseWriter, r *http.Request, token string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, v11, http.StatusBadRequest, 38, "The request body could not be read.")
		return
	}
	status := r.PostForm.Get("status")
	if status == "" {
		writeError(w, v11, http.StatusBadRequest, 170, "Missing required parameter: status.")
		return
	}
	inReplyTo := r.PostForm.Get("in_reply_to_status_id")
	if inReplyTo != "" && !isDigits(inReplyTo) {
		writeError(w, v11, http.StatusBadRequest, 44, "in_reply_to_status_id parameter is invalid.")
		return
	}
	p := s.recordPost(token, status, inReplyTo, v11)
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", tweetJSON(Tweet{
		ID:                p.ID,
		Text:              p.Text,
		UserID:            userIDFromToken(token),
		InReplyToStatusID: inReplyTo,
		At:                p.At,
	}))
}

// newDMEventV11 serves POST /1.1/direct_messages/events/new.json (JSON body).
func (s *Server) newDMEventV11(w http.ResponseWriter, r *http.Request, token string) {
	var req struct {
		Event struct {
			Type          string `json:"type"`
			MessageCreate struct {
				Target struct {
					RecipientID string `json:"recipient_id"`
				} `json:"target"`
				MessageData struct {
					Text string `json:"text"`
				} `json:"message_data"`
			} `json:"message_create"`
		} `json:"event"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, v11, http.StatusBadRequest, 214, "event: The request body is not valid JSON.")
		return
	}
	ev := req.Event
	switch {
	case ev.Type != "message_create":
		writeError(w, v11, http.StatusBadRequest, 214, "event.type: Must be message_create.")
		return
	case !isDigits(ev.MessageCreate.Target.RecipientID):
		writeError(w, v11, http.StatusBadRequest, 214, "event.message_create.target.recipient_id: Invalid.")
		return
	case ev.MessageCreate.MessageData.Text == "":
		writeError(w, v11, http.StatusBadRequest, 214, "event.message_create.message_data.text: Missing.")
		return
	}
	recipient := ev.MessageCreate.Target.RecipientID
	if s.dmsClosed(recipient) {
		writeError(w, v11, http.StatusForbidden, 349, dmClosedMessage)
		return
	}
	d := s.recordDM(token, recipient, ev.MessageCreate.MessageData.Text, v11)
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"event": dmEventJSON(d.ID, userIDFromToken(token), recipient, d.Text, d.At),
	})
}
