package stripepay

import (
	"context"
	"testing"
)

func TestForgetBuyerDeletesTheCustomer(t *testing.T) {
	p, rec, cs := withStripeMock(t)
	ctx := context.Background()
	if err := p.ForgetBuyer(ctx, "901"); err != nil {
		t.Fatalf("a buyer with no customer: %v", err)
	}
	cs.SetCustomerRef(ctx, "901", "cus_test_901")
	if err := p.ForgetBuyer(ctx, "901"); err != nil {
		t.Fatal(err)
	}
	deleted := false
	rec.mu.Lock()
	for _, r := range rec.reqs {
		if r.Method == "DELETE" && r.Path == "/v1/customers/cus_test_901" {
			deleted = true
		}
	}
	rec.mu.Unlock()
	if !deleted {
		t.Fatal("no DELETE /v1/customers/cus_test_901 was sent")
	}
	if ref, _ := cs.CustomerRef(ctx, "901"); ref != "" {
		t.Fatalf("customer ref after forget = %q, want none", ref)
	}
}
