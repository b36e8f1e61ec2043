/** peft4j merge. */
package dev.peft4j.merge;
