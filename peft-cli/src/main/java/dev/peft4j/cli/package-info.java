/** peft4j cli. */
package dev.peft4j.cli;
