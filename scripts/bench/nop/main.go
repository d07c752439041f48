// Command nop does nothing: the bench times starting a static Go program
// at all.
package main

func main() {}
