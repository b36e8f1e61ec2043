/** peft4j core. */
package dev.peft4j.core;
