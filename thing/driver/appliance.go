package driver

import (
	"errors"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// Real appliances: kinds tasmota, zigbee2mqtt and homeassistant reach their
// device through an MQTT broker, kind shelly through the device's Gen2
// JSON-RPC over HTTP. Each appliance is a thing of its own; a command's
// reply comes only after the device confirmed the change, and a device
// that does not answer within ConfirmTimeout gets ErrOffline.

// ErrOffline means the appliance or its broker did not answer: the device
// reported itself offline (LWT, availability), or gave no confirmation
// within ConfirmTimeout. The reply says so; nothing is claimed done.
var ErrOffline = errors.New("the device is offline")

// DefaultConfirmTimeout bounds the wait for a device's confirmation.
const DefaultConfirmTimeout = 5 * time.Second

// MQTTConfig reaches an appliance through an MQTT broker.
type MQTTConfig struct {
	// Broker is the broker's URL: tcp://HOST:1883 or ssl://HOST:8883.
	Broker   string `toml:"broker"`
	User     string `toml:"user"`
	Password string `toml:"password"`
	// Topic names the device: the Tasmota topic ("tasmota_1A2B3C"), the
	// Zigbee2MQTT friendly name, or the Home Assistant discovery config
	// topic ("homeassistant/switch/node/object/config").
	Topic string `toml:"topic"`
	// BaseTopic is Zigbee2MQTT's base topic (default "zigbee2mqtt") or
	// Home Assistant's discovery prefix (default "homeassistant").
	BaseTopic string `toml:"base_topic"`
	// ClientID is the MQTT client id; default derived from the topic.
	ClientID string `toml:"client_id"`
	// ConfirmTimeout bounds the wait for the device's confirmation
	// (0: DefaultConfirmTimeout).
	ConfirmTimeout time.Duration `toml:"confirm_timeout"`
}

// ShellyConfig reaches a Shelly Gen2 device over HTTP.
type ShellyConfig struct {
	// URL is the device's base URL, http://HOST.
	URL      string `toml:"url"`
	User     string `toml:"user"`
	Password string `toml:"password"`
	// Component is what the thing drives: "switch" (default), "cover" or
	// "light"; ID its channel number (default 0).
	Component string `toml:"component"`
	ID        int    `toml:"id"`
	// Poll is how often state is read when no notification arrives
	// (0: a default under a second).
	Poll time.Duration `toml:"poll"`
	// ConfirmTimeout bounds a request (0: DefaultConfirmTimeout).
	ConfirmTimeout time.Duration `toml:"confirm_timeout"`
}

// Found is an appliance a discovery saw.
type Found struct {
	// ID is stable across runs: "tasmota:<mac>", "zigbee2mqtt:<ieee
	// address>", "homeassistant:<component>/<node>/<object>",
	// "shelly:<device id>". thingd adopt takes it.
	ID    string
	Kind  string // tasmota, zigbee2mqtt, homeassistant, shelly
	Name  string // the device's own friendly name
	Model string
	// Config is the device configuration that adopts it: the MQTT or
	// Shelly section filled in.
	Config Config
	// Capabilities is what the thing will offer.
	Capabilities *wire.Capabilities
}
