package xsim

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Post is a post (tweet) published through the Server.
type Post struct {
	// ID is the post id the Server answered with.
	ID string
	// AuthorToken is the oauth_token that signed the request.
	AuthorToken string
	// Text is the post text exactly as received.
	Text string
	// InReplyTo is the id of the post replied to, or "".
	InReplyTo string
	// Version is the API that published it: "2" or "1.1".
	Version string
	// At is the Server's clock when the post was accepted.
	At time.Time
}

// DM is a direct message sent through the Server.
type DM struct {
	// ID is the message (event) id the Server answered with.
	ID string
	// AuthorToken is the oauth_token that signed the request.
	AuthorToken string
	// RecipientID is the user id the message was sent to.
	RecipientID string
	// Text is the message text exactly as received.
	Text string
	// Version is the API that sent it: "2" or "1.1".
	Version string
	// At is the Server's clock when the message was accepted.
	At time.Time
}

// Posts returns a copy of the posts published so far, oldest first.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}

// DMs returns a copy of the direct messages sent so far, oldest first.
func (s *Server) DMs() []DM {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dms)
}

// DMsTo returns the direct messages sent to userID so far, oldest first.
func (s *Server) DMsTo(userID string) []DM {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DM
	for _, d := range s.dms {
		if d.RecipientID == userID {
			out = append(out, d)
		}
	}
	return out
}

// WaitPosts blocks until at least n posts are recorded and returns them all,
// or returns ctx's error (wrapped) if ctx ends first.
func (s *Server) WaitPosts(ctx context.Context, n int) ([]Post, error) {
	for {
		s.mu.Lock()
		if len(s.posts) >= n {
			out := slices.Clone(s.posts)
			s.mu.Unlock()
			return out, nil
		}
		changed, have := s.changed, len(s.posts)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %d posts (have %d): %w", n, have, ctx.Err())
		case <-changed:
		}
	}
}

// WaitDMs blocks until at least n direct messages are recorded and returns
// them all, or returns ctx's error (wrapped) if ctx ends first.
func (s *Server) WaitDMs(ctx context.Context, n int) ([]DM, error) {
	for {
		s.mu.Lock()
		if len(s.dms) >= n {
			out := slices.Clone(s.dms)
			s.mu.Unlock()
			return out, nil
		}
		changed, have := s.changed, len(s.dms)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %d dms (have %d): %w", n, have, ctx.Err())
		case <-changed:
		}
	}
}

// recordPost stores a post under a fresh id and returns it.
func (s *Server) recordPost(token, text, inReplyTo string, ver apiVersion) Post {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Post{
		ID:          s.ids.next(now),
		AuthorToken: token,
		Text:        text,
		InReplyTo:   inReplyTo,
		Version:     string(ver),
		At:          now,
	}
	s.posts = append(s.posts, p)
	s.broadcastLocked()
	return p
}

// recordDM stores a direct message under a fresh id and returns it.
func (s *Server) recordDM(token, recipientID, text string, ver apiVersion) DM {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := DM{
		ID:          s.ids.next(now),
		AuthorToken: token,
		RecipientID: recipientID,
		Text:        text,
		Version:     string(ver),
		At:          now,
	}
	s.dms = append(s.dms, d)
	s.broadcastLocked()
	return d
}

// broadcastLocked wakes every waiter; s.mu must be held.
func (s *Server) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changes returns a channel that is closed at the next change to the
// recorded posts or direct messages (or at Reset). Each channel is closed
// once: after it closes, call Changes again for the next change. Callers
// that read the records after taking the channel miss no change.
func (s *Server) Changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// NewID returns a fresh id from the sequence the Server gives posts and
// direct messages: unique and increasing, derived from the clock as X's
// ids are, so ids made in a later run do not repeat earlier ones. Use it
// for events the caller makes up, such as a user's reply sent with Deliver.
func (s *Server) NewID() string {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids.next(now)
}
