package driver

import (
	"context"
	"errors"
)

// DiscoverShelly asks each Shelly Gen2 device at urls (http://HOST) what it
// is (Shelly.GetDeviceInfo, Shelly.GetConfig) and returns one Found per
// switch, cover or light channel.
func DiscoverShelly(ctx context.Context, urls []string, user, password string) ([]Found, error) {
	return nil, errors.New("DiscoverShelly: contract placeholder, replaced by the Shelly kind's branch")
}
