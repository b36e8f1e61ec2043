/** peft4j examples. */
package dev.peft4j.examples;
