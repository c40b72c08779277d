<?php
/**
 * PHPUnit bootstrap: the WordPress and WooCommerce stand-ins, a fake relay, then the plugin itself.
 *
 * @package Relay_Payments\Tests
 */

require __DIR__ . '/stubs/wordpress.php';
require __DIR__ . '/stubs/woocommerce.php';
require __DIR__ . '/stubs/fake-relay.php';
require __DIR__ . '/stubs/test-case.php';
require dirname( __DIR__ ) . '/relay-payments/relay-payments.php';
do_action( 'plugins_loaded' );
