package dcrpc

import "context"

// Transport is the EnteredLoginParam of add_or_update_transport.
type Transport struct {
	Addr              string `json:"addr"`
	Password          string `json:"password"`
	IMAPServer        string `json:"imapServer,omitempty"`
	IMAPPort          int    `json:"imapPort,omitempty"`
	IMAPSecurity      string `json:"imapSecurity,omitempty"` // automatic, ssl, starttls, plain
	SMTPServer        string `json:"smtpServer,omitempty"`
	SMTPPort          int    `json:"smtpPort,omitempty"`
	SMTPSecurity      string `json:"smtpSecurity,omitempty"`
	CertificateChecks string `json:"certificateChecks,omitempty"` // automatic, strict, acceptInvalidCertificates
}

// Message is the part of get_message's answer tests look at.
type Message struct {
	ID          uint32 `json:"id"`
	ChatID      uint32 `json:"chatId"`
	FromID      uint32 `json:"fromId"`
	Text        string `json:"text"`
	Subject     string `json:"subject"`
	ShowPadlock bool   `json:"showPadlock"`
	IsInfo      bool   `json:"isInfo"`
	Error       string `json:"error"`
	Sender      struct {
		Address string `json:"address"`
	} `json:"sender"`
}

// AddAccount creates an unconfigured account and returns its ID.
func (c *Client) AddAccount(ctx context.Context) (uint32, error) {
	var id uint32
	err := c.Call(ctx, &id, "add_account")
	return id, err
}

// AddTransport configures the account's mail server; it returns once the core
// has logged in to IMAP and SMTP (or failed to).
func (c *Client) AddTransport(ctx context.Context, acc uint32, t Transport) error {
	return c.Call(ctx, nil, "add_or_update_transport", acc, t)
}

// SetConfig sets one account config key (displayname, bot, ...).
func (c *Client) SetConfig(ctx context.Context, acc uint32, key, value string) error {
	return c.Call(ctx, nil, "set_config", acc, key, value)
}

// StartIO starts the account's IMAP/SMTP loops.
func (c *Client) StartIO(ctx context.Context, acc uint32) error {
	return c.Call(ctx, nil, "start_io", acc)
}

// SecurejoinQR returns the account's setup-contact invite (QR code text).
func (c *Client) SecurejoinQR(ctx context.Context, acc uint32) (string, error) {
	var qr string
	err := c.Call(ctx, &qr, "get_chat_securejoin_qr_code", acc, nil)
	return qr, err
}

// SecureJoin starts joining with a scanned invite and returns the chat ID.
func (c *Client) SecureJoin(ctx context.Context, acc uint32, qr string) (uint32, error) {
	var chat uint32
	err := c.Call(ctx, &chat, "secure_join", acc, qr)
	return chat, err
}

// SendText sends a text message into a chat and returns the message ID.
func (c *Client) SendText(ctx context.Context, acc, chat uint32, text string) (uint32, error) {
	var id uint32
	err := c.Call(ctx, &id, "misc_send_text_message", acc, chat, text)
	return id, err
}

// GetMessage fetches one message.
func (c *Client) GetMessage(ctx context.Context, acc, msg uint32) (Message, error) {
	var m Message
	err := c.Call(ctx, &m, "get_message", acc, msg)
	return m, err
}
