<?php
/**
 * The main file's wiring: gateway list, HPOS and blocks declarations, the callback and refund hooks,
 * and the checkout block's payment method type.
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting

final class PluginTest extends Relay_Test_Case {

	public function test_the_gateway_is_added_to_woocommerces_list() {
		$this->assertContains( 'Relay_Payments_Gateway', apply_filters( 'woocommerce_payment_gateways', array( 'WC_Gateway_Cheque' ) ) );
	}

	public function test_hpos_and_the_checkout_blocks_are_declared_compatible() {
		do_action( 'before_woocommerce_init' );
		$main = realpath( dirname( __DIR__, 2 ) . '/relay-payments/relay-payments.php' );
		$this->assertContains( array( 'custom_order_tables', $main, true ), WC_Test_State::$features );
		$this->assertContains( array( 'cart_checkout_blocks', $main, true ), WC_Test_State::$features );
	}

	public function test_the_callback_and_the_refund_hooks_are_registered() {
		$this->assertSame( 10, has_action( 'woocommerce_api_relay', array( 'Relay_Payments_Callback', 'serve' ) ) );
		$this->assertSame( 10, has_action( 'woocommerce_create_refund', array( 'Relay_Payments_Refunds', 'remember' ) ) );
		$this->assertSame( 10, has_action( 'init', array( 'Relay_Payments_Sync', 'schedule' ) ) );
	}

	public function test_the_checkout_block_payment_method_is_registered_with_its_script() {
		$registry = new class() {
			public $registered = array();
			public function register( $type ) {
				$this->registered[] = $type;
			}
		};
		do_action( 'woocommerce_blocks_payment_method_type_registration', $registry );
		$this->assertCount( 1, $registry->registered );
		$type = $registry->registered[0];
		$this->assertInstanceOf( \Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType::class, $type );
		$type->initialize();
		$this->assertSame( 'relay', $type->get_name() );
		$this->assertTrue( $type->is_active() );
		$this->assertSame(
			array(
				'title'       => 'Pay with crypto',
				'description' => 'ETH or stablecoins',
				'supports'    => array( 'products', 'refunds' ),
			),
			$type->get_payment_method_data()
		);
		$this->assertSame( array( 'relay-payments-blocks' ), $type->get_payment_method_script_handles() );
		list( $src, $deps ) = WP_Test_State::$options['__scripts']['relay-payments-blocks'];
		$this->assertStringEndsWith( '/assets/js/relay-blocks.js', $src );
		$this->assertFileExists( dirname( __DIR__, 2 ) . '/relay-payments/assets/js/relay-blocks.js' );
		$this->assertContains( 'wc-blocks-registry', $deps );

		WP_Test_State::$options['woocommerce_relay_settings']['enabled'] = 'no';
		$type->initialize();
		$this->assertFalse( $type->is_active() );
	}

	public function test_the_blocks_script_registers_the_relay_method_from_the_globals() {
		$script = (string) file_get_contents( dirname( __DIR__, 2 ) . '/relay-payments/assets/js/relay-blocks.js' );
		$this->assertStringContainsString( 'wcBlocksRegistry.registerPaymentMethod', $script );
		$this->assertStringContainsString( "getSetting( 'relay_data'", $script );
		$this->assertStringContainsString( "name: 'relay'", $script );
		$this->assertStringNotContainsString( 'import ', $script, 'a plain script: no bundler' );
	}
}
