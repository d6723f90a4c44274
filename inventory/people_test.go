package inventory

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPeopleEventsAreCheckedAndMoveNoStock(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 5, DeliveryRef: "D1"})
	f.record(t, Event{Kind: SignedIn, Actor: "ani", Via: ViaWeb, Roles: []string{"operator"}})
	f.record(t, Event{Kind: ActionTaken, Actor: "budi", Via: ViaSocket, Action: "batch_cancel", Subject: "B1", Reason: "wrong district"})
	for _, bad := range []Event{
		{Kind: SignedIn, Actor: "ani"},                                           // no via
		{Kind: SignInFailed, Actor: "ani", Via: ViaWeb},                          // no reason
		{Kind: AccountChanged, Actor: "root", Via: ViaHost, Action: "add"},       // no subject
		{Kind: ActionTaken, Actor: "ani", Via: ViaWeb, Quantity: 3, Action: "x"}, // stock field
		{Kind: Received, Actor: "ani", Quantity: 1, DeliveryRef: "D2", Via: ViaWeb},
	} {
		if _, err := f.l.Record(ctx, bad); !errors.Is(err, ErrRefused) {
			t.Errorf("%+v: got %v, want a refusal", bad, err)
		}
	}
	s, err := f.l.Stock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Storage != 5 || s.Received != 5 {
		t.Errorf("people events moved stock: %+v", s)
	}
	var blanks, people bytes.Buffer
	if err := ExportLog(ctx, f.db, &blanks, "csv", LogBlanks, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := ExportLog(ctx, f.db, &people, "csv", LogPeople, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(blanks.String(), "signed_in") || strings.Count(blanks.String(), "\n") != 2 {
		t.Errorf("blank export:\n%s", blanks.String())
	}
	if !strings.Contains(people.String(), "signed_in,ani,,,web,operator") || !strings.Contains(people.String(), "batch_cancel,B1,socket") ||
		strings.Contains(people.String(), "received") {
		t.Errorf("people export:\n%s", people.String())
	}
	rep, err := Verify(ctx, f.db, VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
