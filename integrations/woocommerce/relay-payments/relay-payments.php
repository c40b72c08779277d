<?php
/**
 * Plugin Name:          Relay Payments
 * Description:          Pay at checkout in ETH or stablecoins through your self-hosted relay (non-custodial).
 * Version:              0.1.0
 * Requires at least:    6.0
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * WC requires at least: 7.4
 * WC tested up to:      9.9
 * License:              MIT
 * Text Domain:          relay-payments
 *
 * @package Relay_Payments
 */

defined( 'ABSPATH' ) || exit;

define( 'RELAY_PAYMENTS_VERSION', '0.1.0' );
define( 'RELAY_PAYMENTS_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-relay-payments-settings.php';
require_once __DIR__ . '/includes/class-relay-payments-client.php';
require_once __DIR__ . '/includes/class-relay-payments-status-map.php';
require_once __DIR__ . '/includes/class-relay-payments-orders.php';
require_once __DIR__ . '/includes/class-relay-payments-callback.php';
require_once __DIR__ . '/includes/class-relay-payments-sync.php';
require_once __DIR__ . '/includes/class-relay-payments-refunds.php';

/**
 * Load the gateway class once WooCommerce is loaded (it extends WC_Payment_Gateway).
 */
function relay_payments_load_gateway() {
	if ( class_exists( 'WC_Payment_Gateway' ) && ! class_exists( 'Relay_Payments_Gateway' ) ) {
		require_once __DIR__ . '/includes/class-relay-payments-gateway.php';
	}
}
add_action( 'plugins_loaded', 'relay_payments_load_gateway', 11 );

/**
 * Add the gateway to WooCommerce's list.
 *
 * @param string[] $gateways Gateway class names.
 * @return string[]
 */
function relay_payments_add_gateway( $gateways ) {
	relay_payments_load_gateway();
	if ( class_exists( 'Relay_Payments_Gateway' ) ) {
		$gateways[] = 'Relay_Payments_Gateway';
	}
	return $gateways;
}
add_filter( 'woocommerce_payment_gateways', 'relay_payments_add_gateway' );

/**
 * Declare compatibility with HPOS (custom order tables) and the cart and checkout blocks.
 */
function relay_payments_declare_compatibility() {
	if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', __FILE__, true );
		\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'cart_checkout_blocks', __FILE__, true );
	}
}
add_action( 'before_woocommerce_init', 'relay_payments_declare_compatibility' );

/**
 * Register the checkout block's payment method.
 *
 * @param object $registry Automattic\WooCommerce\Blocks\Payments\PaymentMethodRegistry.
 */
function relay_payments_register_blocks( $registry ) {
	if ( ! class_exists( '\Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType' ) ) {
		return;
	}
	require_once __DIR__ . '/includes/class-relay-payments-blocks.php';
	$registry->register( new Relay_Payments_Blocks() );
}
add_action( 'woocommerce_blocks_payment_method_type_registration', 'relay_payments_register_blocks' );

// The relay's status callback: POST {home}/?wc-api=relay.
add_action( 'woocommerce_api_relay', array( 'Relay_Payments_Callback', 'serve' ) );

// The refund being created, so process_refund() can send its id.
add_action( 'woocommerce_create_refund', array( 'Relay_Payments_Refunds', 'remember' ), 10, 2 );

// The scheduled pass that heals lost callbacks.
add_action( Relay_Payments_Sync::HOOK, array( 'Relay_Payments_Sync', 'run_scheduled' ) );
add_action( 'init', array( 'Relay_Payments_Sync', 'schedule' ) );
register_deactivation_hook( __FILE__, array( 'Relay_Payments_Sync', 'unschedule' ) );
