package testenv

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// StoreDeviceAuthorization records a new device authorization and wakes
// WaitDeviceCode.
func (s *storage) StoreDeviceAuthorization(_ context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		return fmt.Errorf("client %q: %w", clientID, errNotFound)
	}
	now := time.Now()
	for dc, d := range s.devices {
		if now.After(d.state.Expires) {
			delete(s.devices, dc)
			delete(s.userCodes, d.userCode)
		}
	}
	if _, dup := s.userCodes[userCode]; dup {
		return op.ErrDuplicateUserCode
	}
	s.devices[deviceCode] = &deviceAuth{
		deviceCode: deviceCode,
		userCode:   userCode,
		created:    now,
		state: op.DeviceAuthorizationState{
			ClientID: clientID,
			Audience: c.audience(),
			Scopes:   slices.Clone(scopes),
			Expires:  expires,
		},
	}
	s.userCodes[userCode] = deviceCode
	close(s.deviceSignal)
	s.deviceSignal = make(chan struct{})
	return nil
}

// GetDeviceAuthorizatonState returns a copy of the state; a finished
// authorization is removed, so its device code yields tokens once.
func (s *storage) GetDeviceAuthorizatonState(ctx context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[deviceCode]
	if !ok || d.state.ClientID != clientID {
		return nil, fmt.Errorf("device code: %w", errNotFound)
	}
	st := d.state
	st.Audience, st.Scopes, st.AMR = slices.Clone(st.Audience), slices.Clone(st.Scopes), slices.Clone(st.AMR)
	if st.Done || st.Denied {
		delete(s.devices, deviceCode)
		delete(s.userCodes, d.userCode)
	}
	return &st, nil
}

// decideDevice approves (subject != "") or denies a pending device
// authorization by its user code.
func (s *storage) decideDevice(userCode, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	userCode = strings.ToUpper(strings.TrimSpace(userCode))
	d, ok := s.devices[s.userCodes[userCode]]
	if !ok {
		return fmt.Errorf("user code %q: %w", userCode, errNotFound)
	}
	if time.Now().After(d.state.Expires) {
		return fmt.Errorf("user code %q expired", userCode)
	}
	if d.state.Done || d.state.Denied {
		return fmt.Errorf("user code %q already decided", userCode)
	}
	if subject == "" {
		d.state.Denied = true
		return nil
	}
	if _, ok := s.users[subject]; !ok {
		return fmt.Errorf("user %q: %w", subject, errNotFound)
	}
	d.state.Done, d.state.Subject = true, subject
	d.state.AuthTime, d.state.AMR = time.Now(), []string{"pwd"}
	return nil
}

// pendingDeviceCode returns the oldest undecided, unexpired user code and
// a channel closed when a new one arrives.
func (s *storage) pendingDeviceCode() (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var oldest *deviceAuth
	for _, d := range s.devices {
		if d.state.Done || d.state.Denied || now.After(d.state.Expires) {
			continue
		}
		if oldest == nil || d.created.Before(oldest.created) {
			oldest = d
		}
	}
	if oldest == nil {
		return "", s.deviceSignal
	}
	return oldest.userCode, s.deviceSignal
}
