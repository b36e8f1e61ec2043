/** peft4j adapters. */
package dev.peft4j.adapters;
