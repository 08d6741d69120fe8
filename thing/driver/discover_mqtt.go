package driver

import (
	"context"
	"errors"
	"time"
)

// DiscoverMQTT listens on the broker for wait and returns the appliances
// announced there: Tasmota (tasmota/discovery/+/config), Zigbee2MQTT
// (bridge/devices) and Home Assistant MQTT discovery. cfg gives the broker,
// login and base topics; Topic is ignored.
func DiscoverMQTT(ctx context.Context, cfg MQTTConfig, wait time.Duration) ([]Found, error) {
	return nil, errors.New("DiscoverMQTT: contract placeholder, replaced by the MQTT kinds' branch")
}
