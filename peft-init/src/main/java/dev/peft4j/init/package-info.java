/** peft4j init. */
package dev.peft4j.init;
