<?php
/**
 * The gateway: checkout, paying again, settings and their validation, the connection test.
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting

final class GatewayTest extends Relay_Test_Case {

	public function test_the_gateway_is_relay_with_products_and_refunds() {
		$gateway = new Relay_Payments_Gateway();
		$this->assertSame( 'relay', $gateway->id );
		$this->assertTrue( $gateway->supports( 'products' ) );
		$this->assertTrue( $gateway->supports( 'refunds' ) );
		$this->assertFalse( $gateway->supports( 'subscriptions' ) );
		$this->assertSame( 'woocommerce_relay_settings', $gateway->get_option_key() );
		$this->assertSame( 'Pay with crypto', $gateway->title );
		$this->assertTrue( $gateway->is_available() );
	}

	public function test_checkout_opens_the_invoice_and_redirects_to_its_payment_page() {
		$order_id = WC_Test_State::add_order(
			array(
				'total'         => '19.9',
				'currency'      => 'USD',
				'billing_email' => 'alice@example.com',
			)
		);
		$result   = ( new Relay_Payments_Gateway() )->process_payment( $order_id );

		$sent = WP_Test_State::$requests[0];
		$this->assertSame( 'POST', $sent['method'] );
		$this->assertSame( Fake_Relay::URL . '/api/v1/stores/main/invoices', $sent['url'] );
		$this->assertSame( 'Bearer secret-token', $sent['args']['headers']['Authorization'] );
		$this->assertSame( 'application/json', $sent['args']['headers']['Content-Type'] );
		$order = $this->order( $order_id );
		$this->assertSame(
			array(
				'order_id'       => (string) $order_id,
				'order_number'   => (string) $order_id,
				'order_key'      => $order->get_order_key(),
				'amount'         => '19.90',
				'currency'       => 'USD',
				'customer_email' => 'alice@example.com',
				'return_url'     => $order->get_checkout_order_received_url(),
			),
			json_decode( $sent['args']['body'], true )
		);

		$invoice_id = $order->get_meta( '_relay_invoice_id' );
		$invoice    = $this->relay->invoices[ $invoice_id ];
		$this->assertSame(
			array(
				'result'   => 'success',
				'redirect' => $invoice['payment_url'],
			),
			$result
		);
		$this->assertSame( $invoice['payment_url'], $order->get_meta( '_relay_payment_url' ) );
		$this->assertSame( array( $invoice_id ), $order->get_meta( '_relay_invoice_ids' ) );
		$this->assertSame( 'pending', $order->get_status(), 'the order waits for the relay' );
		$this->assertSame( array(), WC_Test_State::$notices );
	}

	public function test_paying_again_reuses_the_open_invoice_and_opens_a_new_one_after_expiry() {
		list( $order_id, $first ) = $this->checked_out_order();
		$notes = count( $this->notes( $order_id ) );
		$again = ( new Relay_Payments_Gateway() )->process_payment( $order_id );
		$this->assertSame( $this->relay->invoices[ $first ]['payment_url'], $again['redirect'] );
		$this->assertSame( array( $first ), $this->order( $order_id )->get_meta( '_relay_invoice_ids' ) );
		$this->assertCount( $notes, $this->notes( $order_id ), 'the same invoice is not noted twice' );

		$this->relay->invoices[ $first ]['status'] = 'expired';
		$this->post_event( 'invoice.expired', array( 'id' => $first ) );
		$this->assertSame( 'failed', $this->order( $order_id )->get_status() );
		$third  = ( new Relay_Payments_Gateway() )->process_payment( $order_id );
		$second = $this->order( $order_id )->get_meta( '_relay_invoice_id' );
		$this->assertNotSame( $first, $second );
		$this->assertSame( $this->relay->invoices[ $second ]['payment_url'], $third['redirect'] );
		$this->assertSame( $this->relay->invoices[ $second ]['payment_url'], $this->order( $order_id )->get_meta( '_relay_payment_url' ) );
		$this->assertSame( array( $first, $second ), $this->order( $order_id )->get_meta( '_relay_invoice_ids' ) );
		$this->assertSame( 'pending', $this->order( $order_id )->get_status() );
	}

	public function test_an_unreachable_relay_gives_a_clear_checkout_error_and_nothing_is_paid() {
		$order_id            = WC_Test_State::add_order();
		WP_Test_State::$http = null;
		$result              = ( new Relay_Payments_Gateway() )->process_payment( $order_id );
		$this->assertSame( array( 'result' => 'failure' ), $result );
		$this->assertCount( 1, WC_Test_State::$notices );
		list( $message, $type ) = WC_Test_State::$notices[0];
		$this->assertSame( 'error', $type );
		$this->assertStringContainsString( 'cannot be reached', $message );
		$order = $this->order( $order_id );
		$this->assertSame( 'pending', $order->get_status() );
		$this->assertSame( '', $order->get_meta( '_relay_invoice_id' ) );
		$this->assertNull( $order->get_date_paid() );
	}

	public function test_an_error_answer_gives_the_relays_reason() {
		$order_id = WC_Test_State::add_order( array( 'currency' => '' ) );
		$result   = ( new Relay_Payments_Gateway() )->process_payment( $order_id );
		$this->assertSame( 'failure', $result['result'] );
		$this->assertStringContainsString( 'currency are required', WC_Test_State::$notices[0][0] );
		$this->assertSame( '', $this->order( $order_id )->get_meta( '_relay_invoice_id' ) );
	}

	public function test_the_checkout_block_gets_the_message_as_an_exception() {
		$order_id            = WC_Test_State::add_order();
		WP_Test_State::$http = null;
		$gateway             = new class() extends Relay_Payments_Gateway {
			protected function in_rest_request() {
				return true;
			}
		};
		$this->expectException( Exception::class );
		$this->expectExceptionMessage( 'cannot be reached' );
		$gateway->process_payment( $order_id );
	}

	public function test_an_unconfigured_gateway_is_not_offered() {
		WP_Test_State::$options['woocommerce_relay_settings']['api_token'] = '';
		$this->assertFalse( ( new Relay_Payments_Gateway() )->is_available() );
	}

	private function save_settings( array $posted ) {
		$gateway = new Relay_Payments_Gateway();
		$data    = array();
		foreach ( $posted as $key => $value ) {
			$data[ 'woocommerce_relay_' . $key ] = $value;
		}
		$gateway->set_post_data( $data );
		$gateway->process_admin_options();
		return $gateway;
	}

	public function test_settings_are_validated_and_a_bad_field_keeps_its_old_value() {
		$gateway = $this->save_settings(
			array(
				'enabled'   => '1',
				'title'     => ' Crypto ',
				'relay_url' => 'ftp://relay.test',
				'store'     => 'My Store',
				'api_token' => '  ',
			)
		);
		$this->assertCount( 3, $gateway->get_errors() );
		$this->assertSame( $gateway->get_errors(), WC_Admin_Settings::$errors, 'the errors are shown on the settings screen' );
		$this->assertStringContainsString( 'https://', $gateway->get_errors()[0] );
		$this->assertStringContainsString( 'Store', $gateway->get_errors()[1] );
		$this->assertStringContainsString( 'API token', $gateway->get_errors()[2] );
		$saved = WP_Test_State::$options['woocommerce_relay_settings'];
		$this->assertSame( 'Crypto', $saved['title'] );
		$this->assertSame( Fake_Relay::URL, $saved['relay_url'] );
		$this->assertSame( 'main', $saved['store'] );
		$this->assertSame( 'secret-token', $saved['api_token'] );
	}

	/** @return array<string, array{0: string, 1: string}> */
	public function bad_settings(): array {
		return array(
			'no scheme'          => array( 'relay_url', 'relay.test' ),
			'javascript'         => array( 'relay_url', 'javascript:alert(1)' ),
			'no host'            => array( 'relay_url', 'https://' ),
			'query'              => array( 'relay_url', 'https://relay.test/?x=1' ),
			'empty url'          => array( 'relay_url', '' ),
			'upper case store'   => array( 'store', 'Main' ),
			'store with a slash' => array( 'store', 'main/x' ),
			'store too long'     => array( 'store', str_repeat( 'a', 64 ) ),
			'empty store'        => array( 'store', '' ),
			'token with a space' => array( 'api_token', 'abc def' ),
		);
	}

	/** @dataProvider bad_settings */
	public function test_bad_settings_are_refused( $key, $value ) {
		$method = 'validate_' . $key;
		$this->expectException( InvalidArgumentException::class );
		Relay_Payments_Settings::$method( $value );
	}

	public function test_good_settings_are_saved_as_typed() {
		$this->save_settings(
			array(
				'enabled'   => '1',
				'relay_url' => ' http://127.0.0.1:8080/ ',
				'store'     => 'shop_2-eu',
				'api_token' => 'tok_123',
			)
		);
		$saved = WP_Test_State::$options['woocommerce_relay_settings'];
		$this->assertSame( 'http://127.0.0.1:8080', $saved['relay_url'] );
		$this->assertSame( 'shop_2-eu', $saved['store'] );
		$this->assertSame( 'tok_123', $saved['api_token'] );
		$this->assertSame( 'yes', $saved['enabled'] );
		$this->assertSame( array(), WC_Admin_Settings::$errors );
	}

	public function test_the_connection_test_says_what_is_wrong() {
		$gateway = new Relay_Payments_Gateway();
		$result  = $gateway->test_connection();
		$this->assertTrue( $result['ok'], $result['message'] );
		$this->assertSame( Fake_Relay::URL . '/api/v1/stores/main/invoices/relay-connection-check', WP_Test_State::$requests[0]['url'] );

		$this->relay->token = 'another-token';
		$result             = ( new Relay_Payments_Gateway() )->test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringContainsString( 'refused the API token', $result['message'] );

		$this->relay->token = 'secret-token';
		$this->relay->store = 'other';
		$result             = ( new Relay_Payments_Gateway() )->test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringContainsString( 'does not know this store', $result['message'] );

		WP_Test_State::$options['woocommerce_relay_settings']['relay_url'] = 'https://shop.test';
		$result = ( new Relay_Payments_Gateway() )->test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringContainsString( 'not as a relay', $result['message'] );

		WP_Test_State::$http = null;
		$result              = ( new Relay_Payments_Gateway() )->test_connection();
		$this->assertFalse( $result['ok'] );
		$this->assertStringContainsString( 'cannot be reached', $result['message'] );
		$this->assertStringContainsString( 'Connection refused', $result['message'] );
	}

	public function test_the_settings_screen_has_the_button_and_shows_the_result_only_when_asked() {
		$gateway = new Relay_Payments_Gateway();
		ob_start();
		$gateway->admin_options();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'Test connection', $html );
		$this->assertStringContainsString( 'relay_test_connection=1', $html );
		$this->assertSame( array(), WP_Test_State::$requests, 'no call without a click' );

		$_GET = array(
			'relay_test_connection' => '1',
			'_wpnonce'              => 'nonce-relay_test_connection',
		);
		ob_start();
		$gateway->admin_options();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'notice-success', $html );

		WP_Test_State::$authorised = false;
		WP_Test_State::$requests   = array();
		ob_start();
		$gateway->admin_options();
		ob_end_clean();
		$_GET = array();
		$this->assertSame( array(), WP_Test_State::$requests, 'no call without a valid nonce' );
	}
}
