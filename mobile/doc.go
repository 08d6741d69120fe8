// Package mobile is what differs on a phone, kept free of Fyne so that it
// builds and is tested anywhere:
//
//   - Lifecycle: the mail connection follows the app's lifecycle. On
//     Android and iOS (and in the phone layout built with -tags mobile) the
//     IMAP IDLE connection stops when the app leaves the foreground, which
//     the systems expect of a backgrounded app; when it returns, Start
//     catches the inbox up and flushes the outbox, so a command sent in
//     the meantime is neither lost nor stuck. On a desktop the connection
//     stays up.
//   - Picking a picture of a QR code: Android's picker returns content://
//     URIs without a file extension, so it is filtered by MIME type there
//     and by extension elsewhere (ImageMIMETypes, ImageExtensions,
//     PickByMIME).
//   - The platform files the app needs: android/AndroidManifest.xml (copied
//     beside main.go by package.sh, where `fyne package -os android` takes
//     it instead of the generated one) and ios/Info.plist.entries (the keys
//     to merge into the Info.plist that `fyne package -os ios` writes).
//
// Package ui wires Fyne's lifecycle hooks to a Lifecycle.
package mobile
