<?php
/**
 * The checkout block's payment method `relay` (WooCommerce Blocks' AbstractPaymentMethodType).
 *
 * Loaded only from the `woocommerce_blocks_payment_method_type_registration` action, when the
 * abstract class exists. Its script (assets/js/relay-blocks.js, plain JavaScript, no bundler)
 * registers the method with `window.wc.wcBlocksRegistry.registerPaymentMethod` and reads the data
 * below through `window.wc.wcSettings.getSetting( 'relay_data' )`. Payment itself goes through the
 * gateway's process_payment() (the Store API's legacy processing), which redirects to payment_url.
 *
 * @package Relay_Payments
 */

use Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType;

defined( 'ABSPATH' ) || exit;

/**
 * Blocks integration of the relay gateway.
 */
final class Relay_Payments_Blocks extends AbstractPaymentMethodType {

	/**
	 * The payment method's name: the gateway id.
	 *
	 * @var string
	 */
	protected $name = 'relay';

	/**
	 * Read the gateway's stored settings.
	 */
	public function initialize() {
		$this->settings = Relay_Payments_Settings::load();
	}

	/**
	 * Active when the gateway is enabled and configured.
	 *
	 * @return bool
	 */
	public function is_active() {
		return 'yes' === $this->get_setting( 'enabled', 'no' ) && Relay_Payments_Settings::is_complete( $this->settings );
	}

	/**
	 * Register and return the checkout script.
	 *
	 * @return string[]
	 */
	public function get_payment_method_script_handles() {
		wp_register_script(
			'relay-payments-blocks',
			plugins_url( 'assets/js/relay-blocks.js', RELAY_PAYMENTS_FILE ),
			array( 'wc-blocks-registry', 'wc-settings', 'wp-element', 'wp-html-entities' ),
			RELAY_PAYMENTS_VERSION,
			true
		);
		return array( 'relay-payments-blocks' );
	}

	/**
	 * What the script shows: title, description and the gateway's features.
	 *
	 * @return array{title: string, description: string, supports: string[]}
	 */
	public function get_payment_method_data() {
		return array(
			'title'       => (string) $this->get_setting( 'title' ),
			'description' => (string) $this->get_setting( 'description' ),
			'supports'    => array( 'products', 'refunds' ),
		);
	}
}
