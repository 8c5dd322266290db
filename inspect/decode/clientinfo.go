package decode

import (
	"errors"
	"fmt"
	"strings"
)

// ClientInfo is Entra's client_info: the signed-in account's object ID in
// its home tenant (UID) and that home tenant (UTID). MSAL keys accounts by
// "uid.utid". For a guest, UTID differs from the tid of the tokens issued in
// the resource tenant.
type ClientInfo struct {
	UID  string `json:"uid"`
	UTID string `json:"utid"`
}

// HomeAccountID returns "uid.utid", MSAL's account key.
func (c ClientInfo) HomeAccountID() string { return c.UID + "." + c.UTID }

// ParseClientInfo decodes a client_info value: base64url JSON, padded or
// not (both are seen), with uid and utid strings. An object with neither is
// an error, so a value that merely decodes as JSON is not taken for one.
func ParseClientInfo(s string) (ClientInfo, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ClientInfo{}, errors.New("could not decode client_info: empty")
	}
	if len(s) > maxTokenLen {
		return ClientInfo{}, fmt.Errorf("could not decode client_info: %d bytes is longer than the %d-byte limit", len(s), maxTokenLen)
	}
	raw, err := lenientBase64(s)
	if err != nil {
		return ClientInfo{}, fmt.Errorf("could not decode client_info: not base64url: %w", err)
	}
	m, err := jsonObject(raw)
	if err != nil {
		return ClientInfo{}, fmt.Errorf("could not decode client_info: not a JSON object: %w", err)
	}
	uid, _ := m["uid"].(string)
	utid, _ := m["utid"].(string)
	if uid == "" && utid == "" {
		return ClientInfo{}, errors.New("could not decode client_info: no uid or utid")
	}
	return ClientInfo{UID: uid, UTID: utid}, nil
}
