// Command nop does nothing: the bench times starting a Go program at all,
// built with CGO_ENABLED=0 and, with cgo.go, dynamically linked to glibc.
package main

func main() {}
