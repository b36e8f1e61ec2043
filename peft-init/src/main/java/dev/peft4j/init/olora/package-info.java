/** OLoRA: LoRA initialized with the first r columns of the weight's QR factorization. */
package dev.peft4j.init.olora;
