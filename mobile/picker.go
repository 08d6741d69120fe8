package mobile

// ImageMIMETypes are the MIME types of the pictures a QR code is read from.
func ImageMIMETypes() []string { return []string{"image/png", "image/jpeg"} }

// ImageExtensions are the file extensions of those pictures.
func ImageExtensions() []string {
	return []string{".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG"}
}
