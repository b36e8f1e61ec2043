/** peft4j models. */
package dev.peft4j.models;
